import { z } from "zod";
import type { Db } from "../../../db/client";
import type { Actor } from "../actor";
import { moveActiveVersion, type PromotionResult } from "./move-active-version";
import { findPromptLoop, loopIdField, parseInput, reasonField, versionField } from "./prompt-loop";

export const rollBackPromptVersionSchema = z.object({ loopId: loopIdField, version: versionField, reason: reasonField });
export type RollBackPromptVersionInput = z.input<typeof rollBackPromptVersionSchema>;

/** Makes any earlier version the active one again, live at once; same roles and record as a promotion. */
export async function rollBackPromptVersion(deps: { db: Db }, actor: Actor, raw: RollBackPromptVersionInput): Promise<PromotionResult> {
  const input = parseInput(rollBackPromptVersionSchema, raw);
  const loop = await findPromptLoop(deps.db, actor, input.loopId, "promote");
  return moveActiveVersion(deps.db, actor, { loopId: loop.id, realm: loop.realm, version: input.version, reason: input.reason, kind: "rollback" });
}
