import type { Metadata } from "next";
import Link from "next/link";
import { EvaluatorsPanel } from "@/components/prompts/evaluators-panel";
import { PromptsHeader, promptsPath } from "@/components/prompts/prompt-nav";
import { RolloutPanel } from "@/components/prompts/rollout-panel";
import { VersionsTable } from "@/components/prompts/versions-table";
import { buttonClass, cardClass } from "@/components/ui/styles";
import { requireActor } from "@/lib/server/actor";
import { getInstance } from "@/lib/server/instance";
import { orNotFound } from "@/lib/server/page";
import { listLoopEvaluators } from "@/lib/services/prompts/list-loop-evaluators";
import { listPromptVersions } from "@/lib/services/prompts/list-prompt-versions";
import { completeRolloutAction, removeEvaluatorAction, setEvaluatorAction, startRolloutAction, stopRolloutAction } from "./actions";

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  return { title: `Prompts · ${(await params).id}` };
}

export default async function PromptVersionsPage({ params }: { params: Promise<{ id: string }> }) {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const { id: loopId } = await params;
  const { database } = await getInstance();
  const deps = { db: database.db };
  const [list, { evaluators }] = await Promise.all([
    orNotFound(listPromptVersions(deps, actor, { loopId })),
    orNotFound(listLoopEvaluators(deps, actor, { loopId })),
  ]);
  const { loop, versions, rollout, canEdit, canPromote } = list;

  return (
    <>
      <PromptsHeader loopId={loop.id} realm={loop.realm} current="versions" title="Prompt versions" canEdit={canEdit} />
      <div className="mb-4 flex flex-wrap items-center justify-between gap-3">
        <p className="text-sm text-zinc-600 dark:text-zinc-400">
          {loop.activeVersion !== null ? (
            <>
              Version <span className="font-medium">{loop.activeVersion}</span> is active: every execution loads it when it starts, in every process.
            </>
          ) : (
            "No version is active."
          )}{" "}
          Figures come from the frames each version produced.
        </p>
        {canEdit ? (
          <Link href={promptsPath(loop.id, "/new")} className={buttonClass.primary}>
            New version
          </Link>
        ) : null}
      </div>
      <VersionsTable loopId={loop.id} versions={versions} />
      <div className="mt-6 grid gap-6 lg:grid-cols-2">
        <section aria-labelledby="rollout-heading" className={`${cardClass} p-5`}>
          <h2 id="rollout-heading" className="mb-3 text-base font-semibold">
            Weighted rollout
          </h2>
          <RolloutPanel
            loopId={loop.id}
            activeVersion={loop.activeVersion}
            versions={versions.map((v) => v.version)}
            rollout={rollout}
            canPromote={canPromote}
            startAction={startRolloutAction}
            stopAction={stopRolloutAction}
            completeAction={completeRolloutAction}
          />
        </section>
        <section aria-labelledby="evaluators-heading" className={`${cardClass} p-5`}>
          <h2 id="evaluators-heading" className="mb-3 text-base font-semibold">
            Evaluator loops
          </h2>
          <EvaluatorsPanel loopId={loop.id} evaluators={evaluators} canEdit={canEdit} setAction={setEvaluatorAction} removeAction={removeEvaluatorAction} />
        </section>
      </div>
    </>
  );
}
