import { z } from "zod";
import type { Db } from "../../../db/client";
import { listPromptPromotions as selectPromotions, listPromptRollouts, type PromptPromotion, type PromptRollout } from "../../../db/queries/prompts";
import { scopeFor, type Actor } from "../actor";
import { findPromptLoop, loopIdField, parseInput } from "./prompt-loop";

export const listPromptPromotionsSchema = z.object({ loopId: loopIdField });
export type ListPromptPromotionsInput = z.input<typeof listPromptPromotionsSchema>;

export interface PromptHistory {
  loopId: string;
  realm: string;
  activeVersion: number | null;
  /** Every move of the active version, newest first: who, when, from, to, why. */
  promotions: PromptPromotion[];
  /** Rollouts, newest first. */
  rollouts: PromptRollout[];
}

export async function listPromptPromotions(deps: { db: Db }, actor: Actor, raw: ListPromptPromotionsInput): Promise<PromptHistory> {
  const { loopId } = parseInput(listPromptPromotionsSchema, raw);
  const loop = await findPromptLoop(deps.db, actor, loopId, "view");
  const scope = scopeFor(actor, "view");
  const [promotions, rollouts] = await Promise.all([
    selectPromotions(deps.db, { loopId: loop.id, scope }),
    listPromptRollouts(deps.db, { loopId: loop.id, scope }),
  ]);
  return { loopId: loop.id, realm: loop.realm, activeVersion: loop.activePromptVersion, promotions, rollouts };
}
