import Link from "next/link";
import type { RunSummary } from "@/lib/services/list-runs";
import { formatDuration, formatTime, formatTokens, shortId } from "../ui/format";
import { StatusBadge } from "../ui/status-badge";
import { cardClass } from "../ui/styles";

export function RunsTable({ runs }: { runs: RunSummary[] }) {
  return (
    <div className={`${cardClass} overflow-x-auto`}>
      <table className="min-w-full divide-y divide-zinc-200 text-sm dark:divide-zinc-800">
        <caption className="sr-only">Runs, newest first</caption>
        <thead className="bg-zinc-50 text-left text-xs font-medium uppercase tracking-wide text-zinc-500 dark:bg-zinc-900/60 dark:text-zinc-400">
          <tr>
            {["Run", "Loop", "Status", "Caller", "Started", "Duration", "Frames", "Tokens"].map((heading) => (
              <th key={heading} scope="col" className={`px-4 py-2.5 ${["Duration", "Frames", "Tokens"].includes(heading) ? "text-right" : ""}`}>
                {heading}
              </th>
            ))}
          </tr>
        </thead>
        <tbody className="divide-y divide-zinc-100 dark:divide-zinc-800">
          {runs.map((run) => (
            <tr key={run.id} className="hover:bg-zinc-50 dark:hover:bg-zinc-800/40">
              <td className="px-4 py-2.5">
                <Link href={`/runs/${run.id}`} aria-label={`Run ${shortId(run.id)} of ${run.loopId}, ${run.status}`} className="font-mono font-medium text-indigo-600 hover:underline dark:text-indigo-400">
                  {shortId(run.id)}
                </Link>
              </td>
              <td className="px-4 py-2.5">
                <span className="font-mono">{run.loopId}</span> <span className="text-xs text-zinc-500">r{run.loopRevision}</span>
                <div className="text-xs text-zinc-500">{run.realm}</div>
              </td>
              <td className="px-4 py-2.5">
                <StatusBadge status={run.status} />
              </td>
              <td className="px-4 py-2.5">
                {run.callerName ?? run.caller}
                {run.callerName ? <div className="font-mono text-xs text-zinc-500">{run.caller}</div> : null}
              </td>
              <td className="whitespace-nowrap px-4 py-2.5 text-zinc-600 dark:text-zinc-400">{formatTime(run.createdAt)}</td>
              <td className="whitespace-nowrap px-4 py-2.5 text-right tabular-nums">{run.status === "running" ? "running…" : formatDuration(run.durationMs)}</td>
              <td className="px-4 py-2.5 text-right tabular-nums">{run.frameCount || "—"}</td>
              <td className="whitespace-nowrap px-4 py-2.5 text-right tabular-nums">{formatTokens(run.inputTokens, run.outputTokens)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
