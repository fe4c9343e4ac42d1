"use server";

import { revalidatePath } from "next/cache";
import { redirect } from "next/navigation";
import { z } from "zod";
import { createAction } from "@/lib/server/action";
import { addScore } from "@/lib/services/prompts/add-score";
import { completePromptRollout } from "@/lib/services/prompts/complete-prompt-rollout";
import { promotePromptVersion } from "@/lib/services/prompts/promote-prompt-version";
import { removeLoopEvaluator } from "@/lib/services/prompts/remove-loop-evaluator";
import { rollBackPromptVersion } from "@/lib/services/prompts/roll-back-prompt-version";
import { setLoopEvaluator } from "@/lib/services/prompts/set-loop-evaluator";
import { startPromptRollout } from "@/lib/services/prompts/start-prompt-rollout";
import { stopPromptRollout } from "@/lib/services/prompts/stop-prompt-rollout";

// Every service below checks the caller's role in the loop's realm again: these actions are
// reachable by a direct POST, whatever the page showed.

const loopId = z.string().trim().min(1).max(100);
const version = z.coerce.number().int().positive().max(1_000_000);
const promotionSchema = z.object({ loopId, version, reason: z.string().max(2000) });

/** The loop page and every prompt page under it show the active version. */
function refreshLoop(id: string): void {
  revalidatePath(`/loops/${encodeURIComponent(id)}`, "layout");
}

/** Back to the version, which now shows as active; `was` names the version it replaced. */
function showMoved(loopId: string, promotion: { fromVersion: number | null; toVersion: number }): never {
  refreshLoop(loopId);
  const was = promotion.fromVersion === null ? "" : `?was=${promotion.fromVersion}`;
  redirect(`/loops/${encodeURIComponent(loopId)}/prompts/${promotion.toVersion}${was}`);
}

export const promoteAction = createAction(promotionSchema, async ({ actor, instance, input }) => {
  const { promotion } = await promotePromptVersion({ db: instance.database.db }, actor, input);
  showMoved(input.loopId, promotion);
});

export const rollBackAction = createAction(promotionSchema, async ({ actor, instance, input }) => {
  const { promotion } = await rollBackPromptVersion({ db: instance.database.db }, actor, input);
  showMoved(input.loopId, promotion);
});

export const startRolloutAction = createAction(
  z.object({ loopId, candidateVersion: version, percent: z.coerce.number(), stickyBy: z.string().max(300) }),
  async ({ actor, instance, input }) => {
    const rollout = await startPromptRollout({ db: instance.database.db }, actor, input);
    refreshLoop(input.loopId);
    return { rolloutId: rollout.id };
  },
);

export const stopRolloutAction = createAction(z.object({ loopId }), async ({ actor, instance, input }) => {
  await stopPromptRollout({ db: instance.database.db }, actor, input);
  refreshLoop(input.loopId);
  return { stopped: true as const };
});

export const completeRolloutAction = createAction(z.object({ loopId }), async ({ actor, instance, input }) => {
  const { promotion } = await completePromptRollout({ db: instance.database.db }, actor, input);
  refreshLoop(input.loopId);
  return { toVersion: promotion.toVersion };
});

export const setEvaluatorAction = createAction(
  z.object({ loopId, evaluatorLoopId: loopId, samplePercent: z.coerce.number().min(0).max(100), scoreName: z.string().max(100) }),
  async ({ actor, instance, input }) => {
    const saved = await setLoopEvaluator({ db: instance.database.db }, actor, {
      loopId: input.loopId,
      evaluatorLoopId: input.evaluatorLoopId,
      sampleRate: input.samplePercent / 100,
      scoreName: input.scoreName,
    });
    refreshLoop(input.loopId);
    return { evaluatorLoopId: saved.evaluatorLoopId };
  },
);

export const removeEvaluatorAction = createAction(z.object({ loopId, evaluatorLoopId: loopId }), async ({ actor, instance, input }) => {
  await removeLoopEvaluator({ db: instance.database.db }, actor, input);
  refreshLoop(input.loopId);
  return { removed: true as const };
});

/** Scores a frame from the console; usable by any page that shows frames (the trace inspector, the comparison). */
export const scoreFrameAction = createAction(
  z.object({ frameId: z.uuid(), value: z.string().max(50).optional(), label: z.string().max(100).optional(), comment: z.string().max(10_000).optional() }),
  async ({ actor, instance, input }) => {
    const score = await addScore({ db: instance.database.db }, actor, { ...input, source: "human" });
    refreshLoop(score.loopId);
    revalidatePath(`/runs/${score.runId}`);
    return { value: score.value, label: score.label };
  },
);
