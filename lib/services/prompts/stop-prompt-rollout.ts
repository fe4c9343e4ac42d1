import { z } from "zod";
import type { Db } from "../../../db/client";
import { appendAuditEvent } from "../../../db/queries/audit";
import { endRollout, getRunningRollout, lockLoopForPrompts, type PromptRollout } from "../../../db/queries/prompts";
import { AppError } from "../../errors";
import type { Actor } from "../actor";
import { auditActor, findPromptLoop, inTransaction, loopIdField, parseInput } from "./prompt-loop";

export const stopPromptRolloutSchema = z.object({ loopId: loopIdField, reason: z.string().trim().max(2000).default("") });
export type StopPromptRolloutInput = z.input<typeof stopPromptRolloutSchema>;

/** Ends the running rollout: every execution runs the active version again, from the next frame on. */
export async function stopPromptRollout(deps: { db: Db }, actor: Actor, raw: StopPromptRolloutInput): Promise<PromptRollout> {
  const input = parseInput(stopPromptRolloutSchema, raw);
  const loop = await findPromptLoop(deps.db, actor, input.loopId, "promote");
  return inTransaction(deps.db, async (tx) => {
    if (!(await lockLoopForPrompts(tx, loop.id))) throw new AppError("not_found", `Loop "${loop.id}" does not exist`);
    const running = await getRunningRollout(tx, loop.id);
    if (!running) throw new AppError("conflict", `No rollout is running on ${loop.id}`);
    const rollout = await endRollout(tx, { id: running.id, endedBy: actor.identity.subject, outcome: "stopped", at: new Date() });
    await appendAuditEvent(tx, {
      action: "prompt.rollout_stopped",
      actor: auditActor(actor),
      realmId: loop.realm,
      targetType: "loop",
      targetId: loop.id,
      data: { rolloutId: rollout.id, candidateVersion: rollout.candidateVersion, percent: rollout.percent, reason: input.reason },
    });
    return rollout;
  });
}
