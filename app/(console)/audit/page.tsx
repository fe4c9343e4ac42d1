import type { Metadata } from "next";
import Link from "next/link";
import { AuditFilters, type AuditFilterValues } from "@/components/audit/audit-filters";
import { Badge } from "@/components/ui/badge";
import { EmptyState } from "@/components/ui/empty-state";
import { formatTime, visibleControls } from "@/components/ui/format";
import { JsonBlock } from "@/components/ui/json-block";
import { PageHeader } from "@/components/ui/page-header";
import { buttonClass, cardClass } from "@/components/ui/styles";
import { requireActor } from "@/lib/server/actor";
import { getInstance } from "@/lib/server/instance";
import { param } from "@/lib/server/page";
import { listAuditEvents } from "@/lib/services/list-audit-events";

export const metadata: Metadata = { title: "Audit log" };

/** `datetime-local` inputs carry no zone; the page labels them UTC. */
const asUtc = (value: string | undefined) => (value && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value) ? `${value}Z` : value);

const OUTCOME_CLASS: Record<string, string> = {
  ok: "text-emerald-700 dark:text-emerald-400",
  failed: "text-red-700 dark:text-red-400",
  denied: "text-amber-700 dark:text-amber-400",
};

export default async function AuditPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const query = await searchParams;
  const filters: AuditFilterValues = { action: param(query.action), actor: param(query.actor), realm: param(query.realm), from: param(query.from), to: param(query.to) };
  const before = param(query.before);
  const instance = await getInstance();
  const page = await listAuditEvents({ db: instance.database.db }, actor, { ...filters, from: asUtc(filters.from), to: asUtc(filters.to), before });

  if (!page.canView) {
    return (
      <>
        <PageHeader title="Audit log" />
        <EmptyState title="The audit log is for auditors and admins">Ask an admin to map one of your groups to the auditor or admin role of a realm.</EmptyState>
      </>
    );
  }

  const pageLink = (nextBefore: number | null) => {
    const params = new URLSearchParams(Object.entries(filters).filter((entry): entry is [string, string] => Boolean(entry[1])));
    if (nextBefore !== null) params.set("before", String(nextBefore));
    return `/audit${params.size > 0 ? `?${params}` : ""}`;
  };

  return (
    <>
      <PageHeader
        title="Audit log"
        description={
          <>
            Append-only and hash-chained: each event&apos;s hash covers the one before it. Check the whole chain on the server with{" "}
            <code className="font-mono">loopstacks audit verify</code>.
          </>
        }
      />
      <AuditFilters realms={page.realms} actions={page.actions} values={filters} />
      {page.events.length === 0 ? (
        <EmptyState title="No events match">Try a wider time range or fewer filters.</EmptyState>
      ) : (
        <section className={`${cardClass} overflow-x-auto`} aria-label="Audit events">
          <table className="w-full text-sm">
            <thead className="text-left text-xs text-zinc-500">
              <tr>
                <th className="px-4 py-2 font-medium">#</th>
                <th className="px-3 py-2 font-medium">Time</th>
                <th className="px-3 py-2 font-medium">Action</th>
                <th className="px-3 py-2 font-medium">Actor</th>
                <th className="px-3 py-2 font-medium">Realm</th>
                <th className="px-3 py-2 font-medium">Target</th>
                <th className="px-4 py-2 font-medium">Details</th>
              </tr>
            </thead>
            <tbody>
              {page.events.map((event) => (
                <tr key={event.seq} className="border-t border-zinc-100 align-top dark:border-zinc-800">
                  <td className="px-4 py-2 font-mono text-xs text-zinc-500" title={`hash ${event.hash}`}>
                    {event.seq}
                  </td>
                  <td className="whitespace-nowrap px-3 py-2 text-xs">{formatTime(event.at)}</td>
                  <td className="px-3 py-2">
                    <span className="font-mono text-xs">{event.action}</span> <span className={`text-xs ${OUTCOME_CLASS[event.outcome] ?? ""}`}>{event.outcome}</span>
                  </td>
                  <td className="px-3 py-2 text-xs">
                    <span className="font-mono">{visibleControls(String(event.actor.subject ?? "—"))}</span>
                    {event.actor.source ? <span className="ml-1 text-zinc-500">({visibleControls(String(event.actor.source))})</span> : null}
                  </td>
                  <td className="px-3 py-2 text-xs">{event.realmId ? <Badge>{event.realmId}</Badge> : <span className="text-zinc-500">instance</span>}</td>
                  <td className="break-all px-3 py-2 font-mono text-xs">{event.targetType ? visibleControls(`${event.targetType} ${event.targetId ?? ""}`) : "—"}</td>
                  <td className="px-4 py-2">
                    {Object.keys(event.data).length > 0 ? (
                      <details>
                        <summary className="cursor-pointer text-xs text-zinc-500">data</summary>
                        <JsonBlock value={event.data} label={`Data of audit event ${event.seq}`} maxHeight="16rem" />
                      </details>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      <nav aria-label="Audit log pages" className="mt-4 flex gap-3">
        {before ? (
          <Link href={pageLink(null)} className={buttonClass.secondary}>
            Newest
          </Link>
        ) : null}
        {page.nextBefore !== null ? (
          <Link href={pageLink(page.nextBefore)} className={buttonClass.secondary}>
            Older
          </Link>
        ) : null}
      </nav>
    </>
  );
}
