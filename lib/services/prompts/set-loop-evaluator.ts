import { z } from "zod";
import type { Db } from "../../../db/client";
import { appendAuditEvent } from "../../../db/queries/audit";
import { getLoop } from "../../../db/queries/loops";
import { upsertLoopEvaluator, type LoopEvaluator } from "../../../db/queries/prompts";
import { AppError } from "../../errors";
import { assertCan, scopeFor, type Actor } from "../actor";
import { auditActor, loopIdField, parseInput } from "./prompt-loop";

export const setLoopEvaluatorSchema = z.object({
  loopId: loopIdField,
  evaluatorLoopId: loopIdField,
  /** The share of succeeded frames to evaluate, 0..1. */
  sampleRate: z.coerce.number().min(0).max(1),
  scoreName: z.string().trim().min(1).max(100).default("quality"),
});
export type SetLoopEvaluatorInput = z.input<typeof setLoopEvaluatorSchema>;

/**
 * Makes `evaluatorLoopId` score a sample of `loopId`'s succeeded frames, or changes its sample
 * rate. Maintainers and admins of the evaluated loop's realm may; the evaluator loop must be one
 * they can see. Each evaluation runs as the evaluated run's caller, who must be allowed to run it.
 */
export async function setLoopEvaluator(deps: { db: Db }, actor: Actor, raw: SetLoopEvaluatorInput): Promise<LoopEvaluator> {
  const input = parseInput(setLoopEvaluatorSchema, raw);
  const scope = scopeFor(actor, "view");
  const loop = await getLoop(deps.db, { loopId: input.loopId, scope });
  if (!loop) throw new AppError("not_found", `Loop "${input.loopId}" does not exist`);
  assertCan(actor, "edit", loop.realm, `Loop "${input.loopId}"`);
  if (input.evaluatorLoopId === loop.id) {
    throw new AppError("invalid_input", "A loop cannot evaluate itself", { issues: [{ path: "evaluatorLoopId", message: "choose another loop" }] });
  }
  const evaluator = await getLoop(deps.db, { loopId: input.evaluatorLoopId, scope });
  if (!evaluator) {
    throw new AppError("invalid_input", `Loop "${input.evaluatorLoopId}" does not exist`, { issues: [{ path: "evaluatorLoopId", message: "no such loop" }] });
  }
  const saved = await upsertLoopEvaluator(deps.db, {
    loopId: loop.id,
    evaluatorLoopId: evaluator.id,
    sampleRate: input.sampleRate,
    scoreName: input.scoreName,
    createdBy: actor.identity.subject,
  });
  await appendAuditEvent(deps.db, {
    action: "loop.evaluator_set",
    actor: auditActor(actor),
    realmId: loop.realm,
    targetType: "loop",
    targetId: loop.id,
    data: { evaluatorLoopId: evaluator.id, sampleRate: input.sampleRate, scoreName: input.scoreName },
  });
  return saved;
}
