import { z } from "zod";
import type { Db } from "../../../db/client";
import { getLoop } from "../../../db/queries/loops";
import { listLoopEvaluators as selectEvaluators, type LoopEvaluator } from "../../../db/queries/prompts";
import { AppError } from "../../errors";
import { can, scopeFor, type Actor } from "../actor";
import { loopIdField, parseInput } from "./prompt-loop";

export const listLoopEvaluatorsSchema = z.object({ loopId: loopIdField });
export type ListLoopEvaluatorsInput = z.input<typeof listLoopEvaluatorsSchema>;

export async function listLoopEvaluators(deps: { db: Db }, actor: Actor, raw: ListLoopEvaluatorsInput): Promise<{ evaluators: LoopEvaluator[]; canEdit: boolean }> {
  const { loopId } = parseInput(listLoopEvaluatorsSchema, raw);
  const scope = scopeFor(actor, "view");
  const loop = await getLoop(deps.db, { loopId, scope });
  if (!loop) throw new AppError("not_found", `Loop "${loopId}" does not exist`);
  return { evaluators: await selectEvaluators(deps.db, { loopId: loop.id, scope }), canEdit: can(actor, "edit", loop.realm) };
}
