import type { ParamChange } from "@/lib/services/prompts/diff-prompt-versions";
import { foldUnchanged, type DiffLine } from "@/lib/prompts/line-diff";

const ROW_STYLE: Record<DiffLine["kind"], string> = {
  same: "",
  added: "bg-emerald-50 text-emerald-900 dark:bg-emerald-500/10 dark:text-emerald-200",
  removed: "bg-red-50 text-red-900 dark:bg-red-500/10 dark:text-red-200",
};
const MARK: Record<DiffLine["kind"], string> = { same: " ", added: "+", removed: "−" };

/** A unified line diff with line numbers of both versions; long unchanged stretches are folded. */
export function LineDiffView({
  lines,
  fromLabel,
  toLabel,
  subject = "System prompt",
}: {
  lines: DiffLine[];
  fromLabel: string;
  toLabel: string;
  /** What is compared, for the table's accessible name and the no-change note. */
  subject?: string;
}) {
  const rows = foldUnchanged(lines, 3);
  if (lines.every((line) => line.kind === "same")) {
    return <p className="text-sm text-zinc-500">{subject === "System prompt" ? "The system prompts are identical." : `The two ${subject.toLowerCase()}s are identical.`}</p>;
  }
  return (
    <div className="overflow-x-auto rounded-lg border border-zinc-200 dark:border-zinc-800">
      <table className="min-w-full font-mono text-xs" aria-label={`${subject}, ${fromLabel} to ${toLabel}`}>
        <thead className="sr-only">
          <tr>
            <th scope="col">{fromLabel} line</th>
            <th scope="col">{toLabel} line</th>
            <th scope="col">Change</th>
            <th scope="col">Text</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, index) =>
            row.kind === "skipped" ? (
              <tr key={index} className="bg-zinc-50 text-zinc-500 dark:bg-zinc-900">
                <td colSpan={4} className="px-3 py-1 font-sans">
                  {row.count} unchanged line{row.count === 1 ? "" : "s"}
                </td>
              </tr>
            ) : (
              <tr key={index} data-kind={row.kind} className={ROW_STYLE[row.kind]}>
                <td className="w-10 select-none px-2 text-right text-zinc-400">{row.oldNumber ?? ""}</td>
                <td className="w-10 select-none px-2 text-right text-zinc-400">{row.newNumber ?? ""}</td>
                <td className="w-4 select-none px-1" aria-label={row.kind === "same" ? "unchanged" : row.kind}>
                  {MARK[row.kind]}
                </td>
                <td className="whitespace-pre-wrap break-words px-2 py-0.5">{row.text || " "}</td>
              </tr>
            ),
          )}
        </tbody>
      </table>
    </div>
  );
}

export function ParamsDiff({ params, fromLabel, toLabel }: { params: (ParamChange & { changed: boolean })[]; fromLabel: string; toLabel: string }) {
  return (
    <table className="text-sm" aria-label="Model parameters">
      <thead className="text-left text-xs text-zinc-500">
        <tr>
          <th scope="col" className="pr-6 font-medium">Parameter</th>
          <th scope="col" className="pr-6 font-medium">{fromLabel}</th>
          <th scope="col" className="font-medium">{toLabel}</th>
        </tr>
      </thead>
      <tbody>
        {params.map((param) => (
          <tr key={param.name} className={param.changed ? "font-medium" : "text-zinc-500"}>
            <td className="pr-6 font-mono">{param.name}</td>
            <td className="pr-6 font-mono">{param.from ?? "default"}</td>
            <td className="font-mono">
              {param.to ?? "default"}
              {param.changed ? <span className="ml-2 text-xs text-amber-700 dark:text-amber-400">changed</span> : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
