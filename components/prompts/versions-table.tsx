import Link from "next/link";
import type { PromptVersionSummary } from "@/lib/services/prompts/list-prompt-versions";
import { Badge } from "../ui/badge";
import { formatTime } from "../ui/format";
import { formatFigures, promptPreview } from "./figures";
import { promptsPath } from "./prompt-nav";

/** Every version with the figures of the frames it produced; the active one is marked. */
export function VersionsTable({ loopId, versions }: { loopId: string; versions: PromptVersionSummary[] }) {
  return (
    <div className="overflow-x-auto rounded-lg border border-zinc-200 dark:border-zinc-800">
      <table className="min-w-full divide-y divide-zinc-200 text-sm dark:divide-zinc-800" aria-label="Prompt versions">
        <thead className="bg-zinc-50 text-left text-xs font-medium text-zinc-500 dark:bg-zinc-900">
          <tr>
            <th scope="col" className="px-3 py-2">Version</th>
            <th scope="col" className="px-3 py-2">Message</th>
            <th scope="col" className="px-3 py-2 text-right">Runs</th>
            <th scope="col" className="px-3 py-2 text-right">Mean score</th>
            <th scope="col" className="px-3 py-2 text-right">Errors</th>
            <th scope="col" className="px-3 py-2 text-right" title="Frame latency, median / 95th percentile">Latency p50 / p95</th>
            <th scope="col" className="px-3 py-2 text-right">Tokens</th>
            <th scope="col" className="px-3 py-2">First / last use</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-zinc-100 bg-white dark:divide-zinc-800 dark:bg-zinc-950">
          {versions.map((version) => {
            const shown = formatFigures(version.figures);
            return (
              <tr key={version.version} data-version={version.version} className={version.isActive ? "bg-emerald-50/60 dark:bg-emerald-500/5" : undefined}>
                <td className="whitespace-nowrap px-3 py-2 align-top">
                  <Link href={promptsPath(loopId, `/${version.version}`)} className="font-medium text-indigo-600 hover:underline dark:text-indigo-400">
                    v{version.version}
                  </Link>
                  {version.isActive ? (
                    <span className="ml-2 inline-flex rounded bg-emerald-100 px-1.5 py-0.5 text-[11px] font-medium text-emerald-800 dark:bg-emerald-500/15 dark:text-emerald-300">active</span>
                  ) : null}
                  {version.isCandidate ? (
                    <span className="ml-2">
                      <Badge title="The candidate of the running rollout">candidate</Badge>
                    </span>
                  ) : null}
                  <span className="block text-xs text-zinc-500">
                    {version.author}, {formatTime(version.createdAt)}
                  </span>
                </td>
                <td className="max-w-xs px-3 py-2 align-top">
                  <span className="block">{version.message || <span className="text-zinc-400">(no message)</span>}</span>
                  <span className="block truncate text-xs text-zinc-500" title={version.systemPrompt}>
                    {promptPreview(version.systemPrompt) || "(empty system prompt)"}
                  </span>
                </td>
                <td className="px-3 py-2 text-right align-top tabular-nums">{shown.runs}</td>
                <td className="px-3 py-2 text-right align-top tabular-nums">{shown.meanScore}</td>
                <td className="px-3 py-2 text-right align-top tabular-nums">{shown.errorRate}</td>
                <td className="whitespace-nowrap px-3 py-2 text-right align-top tabular-nums">{shown.latency}</td>
                <td className="whitespace-nowrap px-3 py-2 text-right align-top tabular-nums">{shown.tokens}</td>
                <td className="whitespace-nowrap px-3 py-2 align-top text-xs text-zinc-500">
                  {formatTime(version.figures.firstUsedAt)}
                  <br />
                  {formatTime(version.figures.lastUsedAt)}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
