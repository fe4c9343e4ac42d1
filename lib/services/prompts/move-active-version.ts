import type { Db } from "../../../db/client";
import { appendAuditEvent } from "../../../db/queries/audit";
import { getPromptVersion } from "../../../db/queries/loops";
import {
  endRollout,
  getRunningRollout,
  lockLoopForPrompts,
  moveActivePromptVersion,
  type PromptPromotion,
  type PromptRollout,
} from "../../../db/queries/prompts";
import { AppError } from "../../errors";
import type { Actor } from "../actor";
import { auditActor, inTransaction } from "./prompt-loop";

export interface PromotionResult {
  promotion: PromptPromotion;
  /** A rollout that was running and ended with this move. */
  endedRollout: PromptRollout | null;
}

interface Move {
  loopId: string;
  realm: string;
  version: number;
  reason: string;
  kind: "promotion" | "rollback";
  /** Completing this rollout: its candidate is promoted whatever its number. */
  rolloutId?: string;
}

/**
 * Moves a loop's active prompt version in one transaction: the label, the history row and the
 * audit event commit together or not at all. The loop row is locked first, so two people
 * promoting at once are serialised and each sees the version the other made active.
 *
 * The next frame in any process reads the new version (the runtime never caches it). A running
 * rollout ends with the move — it compared a candidate against a version that is no longer
 * active — as `completed` when its candidate is the one promoted, otherwise `stopped`.
 */
export async function moveActiveVersion(db: Db, actor: Actor, move: Move): Promise<PromotionResult> {
  return inTransaction(db, async (tx) => {
    const loop = await lockLoopForPrompts(tx, move.loopId);
    if (!loop) throw new AppError("not_found", `Loop "${move.loopId}" does not exist`);
    const from = loop.activePromptVersion;
    if (!(await getPromptVersion(tx, loop.id, move.version))) {
      throw new AppError("not_found", `Version ${move.version} of loop "${loop.id}" does not exist`);
    }
    if (from === move.version) throw new AppError("conflict", `Version ${move.version} is already the active version of ${loop.id}`);
    const running = await getRunningRollout(tx, loop.id);
    if (move.rolloutId !== undefined) {
      if (running?.id !== move.rolloutId) throw new AppError("conflict", "That rollout is no longer running");
    } else if (from !== null && move.kind === "promotion" && move.version < from) {
      throw new AppError("invalid_request", `Version ${move.version} is older than the active version ${from}: roll back to it instead`);
    } else if (from !== null && move.kind === "rollback" && move.version > from) {
      throw new AppError("invalid_request", `Version ${move.version} is newer than the active version ${from}: promote it instead`);
    }

    const at = new Date();
    const endedRollout = running
      ? await endRollout(tx, {
          id: running.id,
          endedBy: actor.identity.subject,
          outcome: move.kind === "promotion" && running.candidateVersion === move.version ? "completed" : "stopped",
          at,
        })
      : null;
    const promotion = await moveActivePromptVersion(tx, {
      loopId: loop.id,
      kind: move.kind,
      fromVersion: from,
      toVersion: move.version,
      actor: actor.identity.subject,
      reason: move.reason,
      at,
    });
    await appendAuditEvent(tx, {
      action: move.kind === "rollback" ? "prompt.rolled_back" : "prompt.promoted",
      actor: auditActor(actor),
      realmId: move.realm,
      targetType: "loop",
      targetId: loop.id,
      data: {
        from,
        to: move.version,
        reason: move.reason,
        ...(endedRollout ? { rollout: { id: endedRollout.id, candidateVersion: endedRollout.candidateVersion, percent: endedRollout.percent, outcome: endedRollout.outcome } } : {}),
      },
      at,
    });
    return { promotion, endedRollout };
  });
}
