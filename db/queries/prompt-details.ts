import { and, desc, eq, lte } from "drizzle-orm";
import type { PromptVersion } from "../../lib/runtime/types";
import type { Db } from "../client";
import { frames, loops, promptPromotions, promptVersions } from "../schema";
import { toPromptVersion } from "./loops";
import { realmCondition, type RealmScope } from "./scope";

export interface PromptPromotionRecord {
  kind: string;
  fromVersion: number | null;
  toVersion: number;
  actor: string;
  reason: string;
  createdAt: string;
}

/** The prompt a frame ran, as the inspector shows it. */
export interface FramePromptDetails {
  prompt: PromptVersion;
  /** Why the frame ran this version: `active`, `rollout`, `replay`. */
  choice: string;
  /**
   * The move of the active label onto this version that was in force when the frame started;
   * null when the version was not the active one then (a rollout candidate, a replay).
   */
  promotion: PromptPromotionRecord | null;
  isActiveNow: boolean;
}

export interface GetFramePromptDetailsParams {
  runId: string;
  frameId: string;
  scope: RealmScope;
}

/**
 * The prompt version a frame ran, with its text and promotion record; null when the frame is
 * not in the caller's realms or ran no prompt.
 */
export async function getFramePromptDetails(db: Db, { runId, frameId, scope }: GetFramePromptDetailsParams): Promise<FramePromptDetails | null> {
  const [frame] = await db
    .select({ loopId: frames.loopId, version: frames.promptVersion, choice: frames.promptChoice, createdAt: frames.createdAt })
    .from(frames)
    .where(and(eq(frames.id, frameId), eq(frames.runId, runId), realmCondition(frames.realmId, scope)))
    .limit(1);
  if (!frame || frame.version === null) return null;

  const [[version], [promotion]] = await Promise.all([
    db
      .select({ prompt: promptVersions, activeVersion: loops.activePromptVersion })
      .from(promptVersions)
      .innerJoin(loops, eq(loops.id, promptVersions.loopId))
      .where(and(eq(promptVersions.loopId, frame.loopId), eq(promptVersions.version, frame.version), realmCondition(loops.realmId, scope)))
      .limit(1),
    db
      .select({
        kind: promptPromotions.kind,
        fromVersion: promptPromotions.fromVersion,
        toVersion: promptPromotions.toVersion,
        actor: promptPromotions.actor,
        reason: promptPromotions.reason,
        createdAt: promptPromotions.createdAt,
      })
      .from(promptPromotions)
      .where(and(eq(promptPromotions.loopId, frame.loopId), lte(promptPromotions.createdAt, frame.createdAt)))
      .orderBy(desc(promptPromotions.createdAt))
      .limit(1),
  ]);
  if (!version) return null;

  const choice = typeof frame.choice?.reason === "string" ? frame.choice.reason : "active";
  return {
    prompt: toPromptVersion(version.prompt),
    choice,
    // The latest move before the frame tells which version was active when it ran.
    promotion:
      promotion && promotion.toVersion === frame.version ? { ...promotion, createdAt: promotion.createdAt.toISOString() } : null,
    isActiveNow: version.activeVersion === frame.version,
  };
}
