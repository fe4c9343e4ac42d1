import { z } from "zod";
import type { Db } from "../../../db/client";
import type { Actor } from "../actor";
import { moveActiveVersion, type PromotionResult } from "./move-active-version";
import { findPromptLoop, loopIdField, parseInput, reasonField, versionField } from "./prompt-loop";

export const promotePromptVersionSchema = z.object({ loopId: loopIdField, version: versionField, reason: reasonField });
export type PromotePromptVersionInput = z.input<typeof promotePromptVersionSchema>;

/**
 * Makes a newer version the active one, live for the next execution in every process.
 * Maintainers and admins of the loop's realm may; the reason is kept in the history and the audit log.
 */
export async function promotePromptVersion(deps: { db: Db }, actor: Actor, raw: PromotePromptVersionInput): Promise<PromotionResult> {
  const input = parseInput(promotePromptVersionSchema, raw);
  const loop = await findPromptLoop(deps.db, actor, input.loopId, "promote");
  return moveActiveVersion(deps.db, actor, { loopId: loop.id, realm: loop.realm, version: input.version, reason: input.reason, kind: "promotion" });
}
