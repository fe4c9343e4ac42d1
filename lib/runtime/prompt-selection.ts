import { createHash } from "node:crypto";
import { getPath } from "./template";
import type { PromptVersion } from "./types";

/** Why a frame ran the prompt version it ran; recorded on the frame as `prompt_choice`. */
export type PromptChoice =
  | { reason: "active" }
  | { reason: "rollout"; rolloutId: string; bucket: number; arm: "candidate" | "active" }
  | { reason: "replay" };

export interface ResolvedPrompt {
  prompt: PromptVersion;
  choice: PromptChoice;
}

/** What the executor knows about a frame when it picks a prompt version. */
export interface PromptSelectionContext {
  /** The run's original caller. */
  subject: string;
  input: unknown;
}

/** A running rollout as the selection sees it. */
export interface RolloutRule {
  id: string;
  /** Share of executions, 0–100, that run the candidate. */
  percent: number;
  /** `caller`, or `input:<path>` to stick on a field of the input. */
  stickyBy: string;
}

/** Buckets per rollout: a percentage maps to `percent × 100` of them, so 0.01 % steps are exact. */
export const ROLLOUT_BUCKETS = 10_000;

const INPUT_PREFIX = "input:";

/** Parses `caller` or `input:<path>`; null for anything else. */
export function parseStickyBy(stickyBy: string): { kind: "caller" } | { kind: "input"; path: string } | null {
  if (stickyBy === "caller") return { kind: "caller" };
  if (stickyBy.startsWith(INPUT_PREFIX) && stickyBy.length > INPUT_PREFIX.length) {
    const path = stickyBy.slice(INPUT_PREFIX.length);
    try {
      getPath({}, path);
    } catch {
      return null;
    }
    return { kind: "input", path };
  }
  return null;
}

/**
 * The value that keeps a caller (or an input key) on the same arm. A missing input field
 * falls back to the caller, so executions without the key still stick to someone.
 */
export function stickyKey(stickyBy: string, context: PromptSelectionContext): string {
  const rule = parseStickyBy(stickyBy);
  if (rule?.kind !== "input") return context.subject;
  let value: unknown;
  try {
    value = getPath(context.input, rule.path);
  } catch {
    value = undefined;
  }
  if (value === undefined || value === null) return context.subject;
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * First four bytes of SHA-256(rolloutId + ":" + key), mod 10,000. Hashing the rollout id in
 * means a new rollout reshuffles who gets the candidate, instead of always picking the same
 * early callers.
 */
export function rolloutBucket(rolloutId: string, key: string): number {
  const digest = createHash("sha256").update(`${rolloutId}:${key}`).digest();
  return digest.readUInt32BE(0) % ROLLOUT_BUCKETS;
}

export function chooseRolloutArm(rollout: RolloutRule, context: PromptSelectionContext): { bucket: number; arm: "candidate" | "active" } {
  const bucket = rolloutBucket(rollout.id, stickyKey(rollout.stickyBy, context));
  return { bucket, arm: bucket < Math.round(rollout.percent * 100) ? "candidate" : "active" };
}

/**
 * Picks the prompt version for one frame from what the database holds at that moment: the
 * active version and, when a rollout is running, its candidate.
 */
export function selectPrompt(
  state: { active: PromptVersion; rollout: (RolloutRule & { candidate: PromptVersion }) | null },
  context: PromptSelectionContext,
): ResolvedPrompt {
  if (!state.rollout) return { prompt: state.active, choice: { reason: "active" } };
  const { bucket, arm } = chooseRolloutArm(state.rollout, context);
  return {
    prompt: arm === "candidate" ? state.rollout.candidate : state.active,
    choice: { reason: "rollout", rolloutId: state.rollout.id, bucket, arm },
  };
}
