import type { Metadata } from "next";
import Link from "next/link";
import { PromptsHeader, promptsPath } from "@/components/prompts/prompt-nav";
import { formatTime } from "@/components/ui/format";
import { cardClass } from "@/components/ui/styles";
import { requireActor } from "@/lib/server/actor";
import { getInstance } from "@/lib/server/instance";
import { orNotFound } from "@/lib/server/page";
import { can } from "@/lib/services/actor";
import { listPromptPromotions } from "@/lib/services/prompts/list-prompt-promotions";

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  return { title: `Prompt history · ${(await params).id}` };
}

const KIND_LABEL: Record<string, string> = { registration: "registered", promotion: "promoted", rollback: "rolled back" };

export default async function PromptHistoryPage({ params }: { params: Promise<{ id: string }> }) {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const { id: loopId } = await params;
  const { database } = await getInstance();
  const history = await orNotFound(listPromptPromotions({ db: database.db }, actor, { loopId }));
  const version = (n: number | null) =>
    n === null ? (
      "—"
    ) : (
      <Link href={promptsPath(history.loopId, `/${n}`)} className="font-medium text-indigo-600 hover:underline dark:text-indigo-400">
        v{n}
      </Link>
    );
  return (
    <>
      <PromptsHeader loopId={history.loopId} realm={history.realm} current="history" title="Promotion history" canEdit={can(actor, "edit", history.realm)} />
      <section aria-labelledby="moves-heading" className={`${cardClass} mb-6 overflow-x-auto`}>
        <h2 id="moves-heading" className="px-5 pt-5 text-base font-semibold">
          Moves of the active version
        </h2>
        <table className="mt-3 min-w-full divide-y divide-zinc-200 text-sm dark:divide-zinc-800" aria-label="Promotions and rollbacks">
          <thead className="text-left text-xs font-medium text-zinc-500">
            <tr>
              <th scope="col" className="px-5 py-2">When</th>
              <th scope="col" className="px-3 py-2">Who</th>
              <th scope="col" className="px-3 py-2">What</th>
              <th scope="col" className="px-3 py-2">From</th>
              <th scope="col" className="px-3 py-2">To</th>
              <th scope="col" className="px-3 py-2">Why</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-zinc-100 dark:divide-zinc-800">
            {history.promotions.map((p) => (
              <tr key={p.id} data-kind={p.kind}>
                <td className="whitespace-nowrap px-5 py-2 text-zinc-500">{formatTime(p.createdAt)}</td>
                <td className="px-3 py-2">{p.actor}</td>
                <td className="px-3 py-2">{KIND_LABEL[p.kind] ?? p.kind}</td>
                <td className="px-3 py-2">{version(p.fromVersion)}</td>
                <td className="px-3 py-2">{version(p.toVersion)}</td>
                <td className="px-3 py-2">{p.reason || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="rollouts-heading" className={`${cardClass} overflow-x-auto`}>
        <h2 id="rollouts-heading" className="px-5 pt-5 text-base font-semibold">
          Rollouts
        </h2>
        {history.rollouts.length === 0 ? (
          <p className="px-5 pb-5 pt-2 text-sm text-zinc-500">No rollouts yet.</p>
        ) : (
          <table className="mt-3 min-w-full divide-y divide-zinc-200 text-sm dark:divide-zinc-800" aria-label="Rollouts">
            <thead className="text-left text-xs font-medium text-zinc-500">
              <tr>
                <th scope="col" className="px-5 py-2">Started</th>
                <th scope="col" className="px-3 py-2">Candidate</th>
                <th scope="col" className="px-3 py-2">Share</th>
                <th scope="col" className="px-3 py-2">Sticky by</th>
                <th scope="col" className="px-3 py-2">Ended</th>
                <th scope="col" className="px-3 py-2">Outcome</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-zinc-100 dark:divide-zinc-800">
              {history.rollouts.map((r) => (
                <tr key={r.id}>
                  <td className="whitespace-nowrap px-5 py-2 text-zinc-500">
                    {formatTime(r.startedAt)} <span className="text-zinc-700 dark:text-zinc-300">by {r.startedBy}</span>
                  </td>
                  <td className="px-3 py-2">{version(r.candidateVersion)}</td>
                  <td className="px-3 py-2">{r.percent} %</td>
                  <td className="px-3 py-2 font-mono text-xs">{r.stickyBy}</td>
                  <td className="whitespace-nowrap px-3 py-2 text-zinc-500">{r.endedAt ? `${formatTime(r.endedAt)} by ${r.endedBy}` : "—"}</td>
                  <td className="px-3 py-2">{r.outcome ?? "running"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
