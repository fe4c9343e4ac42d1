import { z } from "zod";
import type { Db } from "../../../db/client";
import { appendAuditEvent } from "../../../db/queries/audit";
import { getPromptVersion } from "../../../db/queries/loops";
import { getRunningRollout, insertRollout, lockLoopForPrompts, type PromptRollout } from "../../../db/queries/prompts";
import { AppError } from "../../errors";
import { parseStickyBy } from "../../runtime/prompt-selection";
import type { Actor } from "../actor";
import { auditActor, findPromptLoop, inTransaction, loopIdField, parseInput, versionField } from "./prompt-loop";

export const startPromptRolloutSchema = z.object({
  loopId: loopIdField,
  candidateVersion: versionField,
  /** Share of executions that run the candidate; hundredths of a percent are honoured. */
  percent: z.coerce.number().min(1, "At least 1 %").max(99, "At most 99 %: promote the candidate to send it everything"),
  stickyBy: z
    .string()
    .trim()
    .default("caller")
    .refine((value) => parseStickyBy(value) !== null, "Use `caller` or `input:<path>`, e.g. `input:patient.id`"),
});
export type StartPromptRolloutInput = z.input<typeof startPromptRolloutSchema>;

/**
 * Runs a candidate version beside the active one for a share of executions, sticky per caller
 * or per an input key. One rollout per loop at a time; maintainers and admins may start one.
 */
export async function startPromptRollout(deps: { db: Db }, actor: Actor, raw: StartPromptRolloutInput): Promise<PromptRollout> {
  const input = parseInput(startPromptRolloutSchema, raw);
  const loop = await findPromptLoop(deps.db, actor, input.loopId, "promote");
  return inTransaction(deps.db, async (tx) => {
    const locked = await lockLoopForPrompts(tx, loop.id);
    if (!locked) throw new AppError("not_found", `Loop "${loop.id}" does not exist`);
    if (!(await getPromptVersion(tx, loop.id, input.candidateVersion))) {
      throw new AppError("not_found", `Version ${input.candidateVersion} of loop "${loop.id}" does not exist`);
    }
    if (locked.activePromptVersion === input.candidateVersion) {
      throw new AppError("conflict", `Version ${input.candidateVersion} is already active; choose another version as the candidate`);
    }
    const running = await getRunningRollout(tx, loop.id);
    if (running) {
      throw new AppError("conflict", `A rollout of version ${running.candidateVersion} is already running on ${loop.id}; stop or complete it first`);
    }
    const percent = Math.round(input.percent * 100) / 100;
    const rollout = await insertRollout(tx, {
      loopId: loop.id,
      candidateVersion: input.candidateVersion,
      percent,
      stickyBy: input.stickyBy,
      startedBy: actor.identity.subject,
      at: new Date(),
    });
    await appendAuditEvent(tx, {
      action: "prompt.rollout_started",
      actor: auditActor(actor),
      realmId: loop.realm,
      targetType: "loop",
      targetId: loop.id,
      data: { rolloutId: rollout.id, activeVersion: locked.activePromptVersion, candidateVersion: rollout.candidateVersion, percent, stickyBy: rollout.stickyBy },
    });
    return rollout;
  });
}
