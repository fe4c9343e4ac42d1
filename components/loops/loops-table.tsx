import Link from "next/link";
import type { LoopSummary } from "@/lib/services/list-loops";
import { Badge, TypeBadge } from "../ui/badge";
import { formatTime, visibleControls } from "../ui/format";
import { cardClass } from "../ui/styles";

export function LoopsTable({ loops }: { loops: LoopSummary[] }) {
  return (
    <div className={`${cardClass} overflow-x-auto`}>
      <table className="min-w-full divide-y divide-zinc-200 text-sm dark:divide-zinc-800">
        <caption className="sr-only">Loops</caption>
        <thead className="bg-zinc-50 text-left text-xs font-medium uppercase tracking-wide text-zinc-500 dark:bg-zinc-900/60 dark:text-zinc-400">
          <tr>
            <th scope="col" className="px-4 py-2.5">
              Loop
            </th>
            <th scope="col" className="px-4 py-2.5">
              Type
            </th>
            <th scope="col" className="px-4 py-2.5">
              Realm
            </th>
            <th scope="col" className="px-4 py-2.5">
              Revision
            </th>
            <th scope="col" className="px-4 py-2.5">
              Prompt
            </th>
            <th scope="col" className="px-4 py-2.5">
              Updated
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-zinc-100 dark:divide-zinc-800">
          {loops.map((loop) => (
            <tr key={loop.id} className="hover:bg-zinc-50 dark:hover:bg-zinc-800/40">
              <td className="max-w-md px-4 py-3">
                <Link href={`/loops/${encodeURIComponent(loop.id)}`} className="font-mono font-medium text-indigo-600 hover:underline dark:text-indigo-400">
                  {loop.id}
                </Link>
                {loop.description ? <p className="mt-0.5 truncate text-zinc-500 dark:text-zinc-400">{visibleControls(loop.description)}</p> : null}
              </td>
              <td className="px-4 py-3">
                <TypeBadge type={loop.type} />
              </td>
              <td className="px-4 py-3 text-zinc-700 dark:text-zinc-300">{loop.realm}</td>
              <td className="px-4 py-3 tabular-nums">r{loop.revision}</td>
              <td className="px-4 py-3">{loop.activePromptVersion !== null ? <Badge>v{loop.activePromptVersion}</Badge> : <span className="text-zinc-400">—</span>}</td>
              <td className="whitespace-nowrap px-4 py-3 text-zinc-500 dark:text-zinc-400">{formatTime(loop.updatedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
