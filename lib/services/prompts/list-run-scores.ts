import { z } from "zod";
import type { Db } from "../../../db/client";
import { getRun } from "../../../db/queries/runs";
import { listRunScores as selectRunScores, type Score } from "../../../db/queries/scores";
import { AppError } from "../../errors";
import { can, scopeFor, type Actor } from "../actor";

export const listRunScoresSchema = z.object({ runId: z.uuid() });
export type ListRunScoresInput = z.input<typeof listRunScoresSchema>;

export interface RunScores {
  /** Every score of every frame of the run, oldest first. */
  scores: Score[];
  canScore: boolean;
}

export async function listRunScores(deps: { db: Db }, actor: Actor, raw: ListRunScoresInput): Promise<RunScores> {
  const parsed = listRunScoresSchema.safeParse(raw);
  if (!parsed.success) throw new AppError("not_found", "Run does not exist");
  const scope = scopeFor(actor, "view");
  const run = await getRun(deps.db, { runId: parsed.data.runId, scope });
  if (!run) throw new AppError("not_found", `Run ${parsed.data.runId} does not exist`);
  return { scores: await selectRunScores(deps.db, { runIds: [run.id], scope }), canScore: can(actor, "run", run.realmId) };
}
