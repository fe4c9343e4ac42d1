import type { Metadata } from "next";
import Link from "next/link";
import { getQueueDepths, listDeadLetters, listWorkers } from "@/db/queries/cluster";
import { EmptyState } from "@/components/ui/empty-state";
import { formatTime } from "@/components/ui/format";
import { PageHeader } from "@/components/ui/page-header";
import { cardClass, linkClass } from "@/components/ui/styles";
import { requireActor } from "@/lib/server/actor";
import { getInstance } from "@/lib/server/instance";
import { scopeFor } from "@/lib/services/actor";

export const metadata: Metadata = { title: "Cluster" };

const th = "px-3 py-2 text-left text-xs font-medium uppercase tracking-wide text-zinc-500";
const td = "px-3 py-2 align-top";

/** Workers, queue depth and dead letters. Work and dead letters are shown for the viewer's realms only. */
export default async function ClusterPage() {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const instance = await getInstance();
  const db = instance.database.db;
  const scope = scopeFor(actor, "view");
  const [workers, depths, deadLetters] = await Promise.all([listWorkers(db, { scope }), getQueueDepths(db), listDeadLetters(db, { scope, limit: 50 })]);
  return (
    <>
      <PageHeader
        title="Cluster"
        description={
          instance.config.execution === "embedded"
            ? "This install runs embedded: a worker inside the console's own process pulls steps of runs from the queue. On PostgreSQL (DATABASE_URL), `loopstacks worker` processes on other machines can join it."
            : instance.config.execution === "direct"
              ? "This install runs loops directly in the console's process, without the queue."
              : "Worker processes pulling steps of runs from the PostgreSQL-backed queue."
        }
      />
      <div className="space-y-6">
        <section aria-labelledby="workers-heading" className={cardClass}>
          <h2 id="workers-heading" className="px-4 pt-4 text-base font-semibold">
            Workers
          </h2>
          {workers.length === 0 ? (
            <div className="p-4">
              <EmptyState title="No worker has registered">Start one with `npx loopstacks worker` on any machine that reaches the database.</EmptyState>
            </div>
          ) : (
            <table className="mt-2 w-full text-sm" aria-label="Workers">
              <thead>
                <tr>
                  <th className={th}>Worker</th>
                  <th className={th}>State</th>
                  <th className={th}>Heartbeat</th>
                  <th className={th}>Version</th>
                  <th className={th}>Steps done</th>
                  <th className={th}>Working on</th>
                </tr>
              </thead>
              <tbody>
                {workers.map((w) => (
                  <tr key={w.id} className="border-t border-zinc-100 dark:border-zinc-800">
                    <td className={`${td} font-mono text-xs`}>
                      {w.host} · pid {w.pid}
                    </td>
                    <td className={td}>{w.isLive ? "live" : "lost"}</td>
                    <td className={td}>{formatTime(w.heartbeatAt.toISOString())}</td>
                    <td className={td}>{w.version}</td>
                    <td className={`${td} tabular-nums`}>{w.processed}</td>
                    <td className={td}>
                      {w.currentWork.length === 0
                        ? "—"
                        : w.currentWork.map((step, i) => (
                            <div key={i}>
                              <Link href={`/runs/${step.runId}`} className={linkClass}>
                                {step.loopId ?? step.runId}
                              </Link>
                            </div>
                          ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>

        <section aria-labelledby="queue-heading" className={`${cardClass} p-4`}>
          <h2 id="queue-heading" className="text-base font-semibold">
            Queue
          </h2>
          {depths.length === 0 ? (
            <p className="mt-2 text-sm text-zinc-500">The queue is created when the first worker starts.</p>
          ) : (
            <table className="mt-2 w-full text-sm" aria-label="Queue depth">
              <thead>
                <tr>
                  <th className={th}>Queue</th>
                  <th className={th}>Ready</th>
                  <th className={th}>Deferred</th>
                  <th className={th}>Active</th>
                  <th className={th}>Failed</th>
                  <th className={th}>Oldest ready</th>
                </tr>
              </thead>
              <tbody>
                {depths.map((d) => (
                  <tr key={d.queue} className="border-t border-zinc-100 dark:border-zinc-800">
                    <td className={`${td} font-mono text-xs`}>{d.queue}</td>
                    <td className={`${td} tabular-nums`}>{d.ready}</td>
                    <td className={`${td} tabular-nums`}>{d.deferred}</td>
                    <td className={`${td} tabular-nums`}>{d.active}</td>
                    <td className={`${td} tabular-nums`}>{d.failed}</td>
                    <td className={`${td} tabular-nums`}>{d.oldestReadySeconds === null ? "—" : `${Math.round(d.oldestReadySeconds)} s`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>

        <section aria-labelledby="dead-heading" className={`${cardClass} p-4`}>
          <h2 id="dead-heading" className="text-base font-semibold">
            Dead letters
          </h2>
          {deadLetters.length === 0 ? (
            <p className="mt-2 text-sm text-zinc-500">No work has been set aside.</p>
          ) : (
            <table className="mt-2 w-full text-sm" aria-label="Dead letters">
              <thead>
                <tr>
                  <th className={th}>When</th>
                  <th className={th}>Run</th>
                  <th className={th}>Step</th>
                  <th className={th}>Attempts</th>
                  <th className={th}>Reason</th>
                </tr>
              </thead>
              <tbody>
                {deadLetters.map((d) => (
                  <tr key={d.id} className="border-t border-zinc-100 dark:border-zinc-800">
                    <td className={td}>{formatTime(d.deadAt.toISOString())}</td>
                    <td className={td}>
                      {d.runId ? (
                        <Link href={`/runs/${d.runId}`} className={linkClass}>
                          {d.loopId ?? d.runId}
                        </Link>
                      ) : (
                        "—"
                      )}
                    </td>
                    <td className={td}>{d.step}</td>
                    <td className={`${td} tabular-nums`}>{d.attempts}</td>
                    <td className={`${td} text-xs`}>{d.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </>
  );
}
