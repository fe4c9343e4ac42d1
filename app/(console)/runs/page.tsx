import type { Metadata } from "next";
import Link from "next/link";
import { RunFilters } from "@/components/runs/run-filters";
import { RunsTable } from "@/components/runs/runs-table";
import { EmptyState } from "@/components/ui/empty-state";
import { PageHeader } from "@/components/ui/page-header";
import { buttonClass, linkClass } from "@/components/ui/styles";
import { FRAME_STATUSES } from "@/lib/runtime/types";
import { requireActor } from "@/lib/server/actor";
import { getInstance } from "@/lib/server/instance";
import { param } from "@/lib/server/page";
import { listRuns } from "@/lib/services/list-runs";

export const metadata: Metadata = { title: "Runs" };

const PAGE_SIZE = 50;

/** `datetime-local` values carry no zone; the form labels them UTC. */
function utc(value: string | undefined): string | undefined {
  if (!value) return undefined;
  return /[zZ]|[+-]\d\d:\d\d$/.test(value) ? value : `${value}Z`;
}

export default async function RunsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const query = await searchParams;
  const filters = {
    loop: param(query.loop),
    status: param(query.status),
    realm: param(query.realm),
    caller: param(query.caller),
    from: param(query.from),
    to: param(query.to),
  };
  const cursor = param(query.cursor);
  const instance = await getInstance();
  const page = await listRuns({ db: instance.database.db }, actor, {
    loopId: filters.loop,
    status: FRAME_STATUSES.find((status) => status === filters.status),
    realm: filters.realm,
    caller: filters.caller,
    from: utc(filters.from),
    to: utc(filters.to),
    cursor,
    limit: PAGE_SIZE,
  });
  const isFiltered = Object.values(filters).some(Boolean);
  const pageLink = (next: string | null) => {
    const search = new URLSearchParams(Object.entries(filters).filter((entry): entry is [string, string] => Boolean(entry[1])));
    if (next) search.set("cursor", next);
    const text = search.toString();
    return text ? `/runs?${text}` : "/runs";
  };

  return (
    <>
      <PageHeader title="Runs" description="Every top-level invocation, newest first. Open one to walk its Loop Stack Tree." />
      <RunFilters realms={page.realms} values={filters} />
      {page.runs.length > 0 ? (
        <>
          <RunsTable runs={page.runs} />
          <nav aria-label="Pagination" className="mt-4 flex items-center justify-between text-sm">
            <span className="text-zinc-500">
              {cursor ? "Older runs" : "Newest runs"} · {page.runs.length} shown
            </span>
            <span className="flex gap-2">
              {cursor ? (
                <Link href={pageLink(null)} className={buttonClass.secondary}>
                  Newest
                </Link>
              ) : null}
              {page.nextCursor ? (
                <Link href={pageLink(page.nextCursor)} className={buttonClass.secondary}>
                  Older runs →
                </Link>
              ) : null}
            </span>
          </nav>
        </>
      ) : isFiltered || cursor ? (
        <EmptyState
          title="No runs match these filters"
          action={
            <Link href="/runs" className={linkClass}>
              Clear filters
            </Link>
          }
        >
          Widen the time range or choose another loop, status or caller.
        </EmptyState>
      ) : (
        <EmptyState
          title="No runs yet"
          action={
            <Link href="/loops" className={buttonClass.primary}>
              Choose a loop to run
            </Link>
          }
        >
          Open a loop and press Run, call <code className="font-mono">executor.run(…)</code> from code, or use <code className="font-mono">npx loopstacks run</code>.
        </EmptyState>
      )}
    </>
  );
}
