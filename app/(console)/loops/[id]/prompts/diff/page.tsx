import type { Metadata } from "next";
import { LineDiffView, ParamsDiff } from "@/components/prompts/diff-view";
import { PromptsHeader } from "@/components/prompts/prompt-nav";
import { VersionPicker } from "@/components/prompts/version-picker";
import { EmptyState } from "@/components/ui/empty-state";
import { cardClass } from "@/components/ui/styles";
import type { Db } from "@/db/client";
import { requireActor } from "@/lib/server/actor";
import { getInstance } from "@/lib/server/instance";
import { orNotFound, param, pickNumber } from "@/lib/server/page";
import type { Actor } from "@/lib/services/actor";
import { diffPromptVersions } from "@/lib/services/prompts/diff-prompt-versions";
import { listPromptVersions } from "@/lib/services/prompts/list-prompt-versions";

type Props = { params: Promise<{ id: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `Diff · ${(await params).id}` };
}


export default async function PromptDiffPage({ params, searchParams }: Props) {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const { id: loopId } = await params;
  const query = await searchParams;
  const { database } = await getInstance();
  const deps = { db: database.db };
  const { loop, versions, canEdit } = await orNotFound(listPromptVersions(deps, actor, { loopId }));
  const numbers = versions.map((v) => v.version);
  const newest = numbers[0];
  const to = pickNumber(param(query.to), numbers) ?? newest;
  const from = pickNumber(param(query.from), numbers) ?? loop.activeVersion ?? numbers[1] ?? newest;

  return (
    <>
      <PromptsHeader loopId={loop.id} realm={loop.realm} current="diff" title="Diff two versions" canEdit={canEdit} />
      {from === undefined || to === undefined ? (
        <EmptyState title="No prompt versions yet" />
      ) : (
        <>
          <VersionPicker versions={numbers} first={from} second={to} names={["from", "to"]} submitLabel="Show diff" />
          <DiffSections deps={deps} actor={actor} loopId={loop.id} from={from} to={to} />
        </>
      )}
    </>
  );
}

async function DiffSections({ deps, actor, loopId, from, to }: { deps: { db: Db }; actor: Actor; loopId: string; from: number; to: number }) {
  const diff = await orNotFound(diffPromptVersions(deps, actor, { loopId, from, to }));
  const fromLabel = `v${from}`;
  const toLabel = `v${to}`;
  return (
    <div className="space-y-6">
      <section aria-labelledby="diff-heading" className={`${cardClass} p-5`}>
        <h2 id="diff-heading" className="mb-3 text-base font-semibold">
          System prompt, {fromLabel} → {toLabel}{" "}
          <span className="text-sm font-normal text-zinc-500">
            (+{diff.systemPrompt.added} −{diff.systemPrompt.removed})
          </span>
        </h2>
        <LineDiffView lines={diff.systemPrompt.lines} fromLabel={fromLabel} toLabel={toLabel} />
      </section>
      <section aria-labelledby="params-heading" className={`${cardClass} p-5`}>
        <h2 id="params-heading" className="mb-3 text-base font-semibold">
          Model parameters
        </h2>
        <ParamsDiff params={diff.params} fromLabel={fromLabel} toLabel={toLabel} />
      </section>
    </div>
  );
}
