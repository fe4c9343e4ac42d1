import { z } from "zod";
import type { Db } from "../../../db/client";
import { getRunningRollout } from "../../../db/queries/prompts";
import { AppError } from "../../errors";
import type { Actor } from "../actor";
import { moveActiveVersion, type PromotionResult } from "./move-active-version";
import { findPromptLoop, loopIdField, parseInput } from "./prompt-loop";

export const completePromptRolloutSchema = z.object({ loopId: loopIdField, reason: z.string().trim().max(2000).default("") });
export type CompletePromptRolloutInput = z.input<typeof completePromptRolloutSchema>;

/** Promotes the running rollout's candidate and ends the rollout as `completed`, in one transaction. */
export async function completePromptRollout(deps: { db: Db }, actor: Actor, raw: CompletePromptRolloutInput): Promise<PromotionResult> {
  const input = parseInput(completePromptRolloutSchema, raw);
  const loop = await findPromptLoop(deps.db, actor, input.loopId, "promote");
  const running = await getRunningRollout(deps.db, loop.id);
  if (!running) throw new AppError("conflict", `No rollout is running on ${loop.id}`);
  return moveActiveVersion(deps.db, actor, {
    loopId: loop.id,
    realm: loop.realm,
    version: running.candidateVersion,
    reason: input.reason || `Completed the rollout of version ${running.candidateVersion} at ${running.percent} %`,
    kind: "promotion",
    rolloutId: running.id,
  });
}
