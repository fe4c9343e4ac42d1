import type { Metadata } from "next";
import Link from "next/link";
import { LoopFilters } from "@/components/loops/loop-filters";
import { LoopsTable } from "@/components/loops/loops-table";
import { EmptyState } from "@/components/ui/empty-state";
import { PageHeader } from "@/components/ui/page-header";
import { buttonClass, linkClass } from "@/components/ui/styles";
import { requireActor } from "@/lib/server/actor";
import { getInstance } from "@/lib/server/instance";
import { param } from "@/lib/server/page";
import { realmsFor } from "@/lib/services/actor";
import { listLoops, LOOP_TYPES } from "@/lib/services/list-loops";

export const metadata: Metadata = { title: "Loops" };

export default async function LoopsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const query = await searchParams;
  const filters = { search: param(query.q), realm: param(query.realm), type: LOOP_TYPES.find((type) => type === param(query.type)) };
  const instance = await getInstance();
  const { loops, realms } = await listLoops({ db: instance.database.db }, actor, filters);
  const canRegister = realmsFor(actor, "edit").length > 0;
  const isFiltered = Boolean(filters.search || filters.realm || filters.type);

  return (
    <>
      <PageHeader
        title="Loops"
        description="Every AI invocation runs through a loop: an LLM, MCP or HTTP call with a realm, a revision and a trace."
        actions={
          canRegister ? (
            <Link href="/loops/new" className={buttonClass.primary}>
              Register loop
            </Link>
          ) : null
        }
      />
      {realms.length === 0 ? (
        <EmptyState title="You have no role in any realm yet">
          Loops belong to realms, and realms are granted through directory groups. Ask an admin to map one of your groups to a realm.
        </EmptyState>
      ) : (
        <>
          <LoopFilters realms={realms} values={filters} />
          {loops.length > 0 ? (
            <LoopsTable loops={loops} />
          ) : isFiltered ? (
            <EmptyState
              title="No loops match these filters"
              action={
                <Link href="/loops" className={linkClass}>
                  Clear filters
                </Link>
              }
            >
              Try another search term, realm or type.
            </EmptyState>
          ) : (
            <EmptyState
              title="No loops yet"
              action={
                canRegister ? (
                  <Link href="/loops/new" className={buttonClass.primary}>
                    Register loop
                  </Link>
                ) : null
              }
            >
              Register a loop {canRegister ? "here, " : ""}from code with <code className="font-mono">registry.register(…)</code>, or apply a loops file with{" "}
              <code className="font-mono">npx loopstacks apply -f loops.yaml</code>.
            </EmptyState>
          )}
        </>
      )}
    </>
  );
}
