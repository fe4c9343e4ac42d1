import type { Metadata } from "next";
import Link from "next/link";
import { LineDiffView } from "@/components/prompts/diff-view";
import { PageHeader } from "@/components/ui/page-header";
import { formatTime } from "@/components/ui/format";
import { buttonClass, cardClass, inputClass, labelClass } from "@/components/ui/styles";
import { requireActor } from "@/lib/server/actor";
import { getInstance } from "@/lib/server/instance";
import { orNotFound, param } from "@/lib/server/page";
import { compareLoopRevisions, type LoopRevisionSummary } from "@/lib/services/get-loop";

type Props = { params: Promise<{ id: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `Revisions · ${(await params).id}` };
}

export default async function RevisionDiffPage({ params, searchParams }: Props) {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const { id: loopId } = await params;
  const query = await searchParams;
  const instance = await getInstance();
  const { loop, revisions, a, b, diff } = await orNotFound(
    compareLoopRevisions({ db: instance.database.db }, actor, { loopId, a: param(query.a), b: param(query.b) }),
  );
  const fromLabel = `r${a.revision}`;
  const toLabel = `r${b.revision}`;
  const loopHref = `/loops/${encodeURIComponent(loop.id)}`;

  return (
    <>
      <PageHeader
        eyebrow={
          <>
            <Link href="/loops" className="hover:underline">
              Loops
            </Link>{" "}
            /{" "}
            <Link href={loopHref} className="font-mono hover:underline">
              {loop.id}
            </Link>
          </>
        }
        title="Compare revisions"
        description="The two definitions as JSON with sorted keys, so only real changes show."
      />
      {/* A plain GET form keeps the chosen pair in the URL, so a comparison can be shared. */}
      <form method="get" className="mb-6 flex flex-wrap items-end gap-3" aria-label="Choose revisions">
        {(
          [
            ["a", "From", a.revision],
            ["b", "To", b.revision],
          ] as const
        ).map(([name, label, selected]) => (
          <div key={name}>
            <label htmlFor={`revision-${name}`} className={labelClass}>
              {label}
            </label>
            <select id={`revision-${name}`} name={name} defaultValue={selected} className={`${inputClass} mt-1 w-32`}>
              {revisions.map((revision) => (
                <option key={revision} value={revision}>
                  r{revision}
                  {revision === loop.revision ? " (current)" : ""}
                </option>
              ))}
            </select>
          </div>
        ))}
        <button type="submit" className={buttonClass.secondary}>
          Show diff
        </button>
      </form>
      <section aria-labelledby="definition-diff-heading" className={`${cardClass} p-5`}>
        <h2 id="definition-diff-heading" className="mb-1 text-base font-semibold">
          Definition, {fromLabel} → {toLabel}{" "}
          <span className="text-sm font-normal text-zinc-500">
            (+{diff.added} −{diff.removed})
          </span>
        </h2>
        <p className="mb-3 text-xs text-zinc-500">
          <RevisionByline label={fromLabel} revision={a} /> · <RevisionByline label={toLabel} revision={b} />
        </p>
        {a.revision === b.revision ? (
          <p className="text-sm text-zinc-500">
            This loop has one revision so far. Edit its definition to create another, then compare them here.
          </p>
        ) : diff.added === 0 && diff.removed === 0 ? (
          <p className="text-sm text-zinc-500">
            The definitions of {fromLabel} and {toLabel} are identical.
          </p>
        ) : (
          <LineDiffView lines={diff.lines} fromLabel={fromLabel} toLabel={toLabel} subject="Definition" />
        )}
      </section>
    </>
  );
}

function RevisionByline({ label, revision }: { label: string; revision: LoopRevisionSummary }) {
  return (
    <span>
      {label} by {revision.createdBy}, {formatTime(revision.createdAt)}
    </span>
  );
}
