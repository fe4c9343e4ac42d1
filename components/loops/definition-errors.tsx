import type { ActionError } from "@/lib/server/action";

/** A refused definition: each problem at its path, or the one message when there is no path. */
export function DefinitionErrors({ error, id }: { error: ActionError; id?: string }) {
  return (
    <div id={id} role="alert" className="rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-500/30 dark:bg-red-500/10 dark:text-red-200">
      {error.issues.length > 0 ? (
        <>
          <p className="font-medium">{error.code === "forbidden" ? error.message : "The definition has problems:"}</p>
          <ul className="mt-1 list-disc space-y-0.5 pl-5">
            {error.issues.map((issue, i) => (
              <li key={i}>
                <code className="font-mono text-xs">{issue.path || "(root)"}</code>: {issue.message}
              </li>
            ))}
          </ul>
        </>
      ) : (
        <p className="whitespace-pre-wrap">{error.message}</p>
      )}
    </div>
  );
}
