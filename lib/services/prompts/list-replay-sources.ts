import { z } from "zod";
import type { Db } from "../../../db/client";
import { listRecentLoopRuns, type ReplaySourceRun } from "../../../db/queries/prompts";
import { scopeFor, type Actor } from "../actor";
import { findPromptLoop, loopIdField, parseInput, versionField } from "./prompt-loop";

export const listReplaySourcesSchema = z.object({
  loopId: loopIdField,
  /** Only runs whose root frame ran this version; defaults to the active version. */
  version: versionField.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
export type ListReplaySourcesInput = z.input<typeof listReplaySourcesSchema>;

/** Recent runs of an LLM loop whose inputs can be replayed on another prompt version. */
export async function listReplaySources(deps: { db: Db }, actor: Actor, raw: ListReplaySourcesInput): Promise<{ version: number | null; runs: ReplaySourceRun[] }> {
  const input = parseInput(listReplaySourcesSchema, raw);
  const loop = await findPromptLoop(deps.db, actor, input.loopId, "view");
  const version = input.version ?? loop.activePromptVersion;
  const runs = await listRecentLoopRuns(deps.db, {
    loopId: loop.id,
    scope: scopeFor(actor, "view"),
    limit: input.limit,
    ...(version !== null ? { promptVersion: version } : {}),
  });
  return { version, runs };
}
