import { z } from "zod";
import type { Db } from "../../../db/client";
import { appendAuditEvent } from "../../../db/queries/audit";
import { getLoop } from "../../../db/queries/loops";
import { deleteLoopEvaluator } from "../../../db/queries/prompts";
import { AppError } from "../../errors";
import { assertCan, scopeFor, type Actor } from "../actor";
import { auditActor, loopIdField, parseInput } from "./prompt-loop";

export const removeLoopEvaluatorSchema = z.object({ loopId: loopIdField, evaluatorLoopId: loopIdField });
export type RemoveLoopEvaluatorInput = z.input<typeof removeLoopEvaluatorSchema>;

export async function removeLoopEvaluator(deps: { db: Db }, actor: Actor, raw: RemoveLoopEvaluatorInput): Promise<void> {
  const input = parseInput(removeLoopEvaluatorSchema, raw);
  const loop = await getLoop(deps.db, { loopId: input.loopId, scope: scopeFor(actor, "view") });
  if (!loop) throw new AppError("not_found", `Loop "${input.loopId}" does not exist`);
  assertCan(actor, "edit", loop.realm, `Loop "${input.loopId}"`);
  if (!(await deleteLoopEvaluator(deps.db, { loopId: loop.id, evaluatorLoopId: input.evaluatorLoopId }))) {
    throw new AppError("not_found", `${input.evaluatorLoopId} does not evaluate ${loop.id}`);
  }
  await appendAuditEvent(deps.db, {
    action: "loop.evaluator_removed",
    actor: auditActor(actor),
    realmId: loop.realm,
    targetType: "loop",
    targetId: loop.id,
    data: { evaluatorLoopId: input.evaluatorLoopId },
  });
}
