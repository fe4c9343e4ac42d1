import type { ActionError, ActionResult } from "@/lib/server/action";

export type FormAction<T> = (previous: ActionResult<T> | null, formData: FormData) => Promise<ActionResult<T>>;

/** The message of a refused action, with each field problem on its own line. */
export function ActionErrorNote({ id, error }: { id: string; error: ActionError }) {
  const lines = error.issues.length > 0 ? error.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)) : [error.message];
  return (
    <div id={id} role="alert" className="rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-500/30 dark:bg-red-500/10 dark:text-red-200">
      {lines.map((line, index) => (
        <p key={index} className="whitespace-pre-wrap">
          {line}
        </p>
      ))}
    </div>
  );
}

export function StatusNote({ children }: { children: React.ReactNode }) {
  return (
    <p role="status" className="text-sm text-emerald-700 dark:text-emerald-400">
      {children}
    </p>
  );
}
