import { z } from "zod";
import type { Db } from "../../../db/client";
import {
  emptyFigures,
  getPromptVersionFigures,
  getRunningRollout,
  listPromptVersions as selectPromptVersions,
  type PromptRollout,
  type PromptVersionFigures,
} from "../../../db/queries/prompts";
import type { PromptVersion } from "../../runtime/types";
import { can, scopeFor, type Actor } from "../actor";
import { findPromptLoop, loopIdField, parseInput } from "./prompt-loop";

export const listPromptVersionsSchema = z.object({ loopId: loopIdField });
export type ListPromptVersionsInput = z.input<typeof listPromptVersionsSchema>;

export interface PromptVersionSummary extends PromptVersion {
  isActive: boolean;
  /** The candidate of the running rollout. */
  isCandidate: boolean;
  figures: PromptVersionFigures;
}

export interface PromptVersionList {
  loop: { id: string; realm: string; description: string; activeVersion: number | null };
  /** Newest first. */
  versions: PromptVersionSummary[];
  rollout: PromptRollout | null;
  canEdit: boolean;
  canPromote: boolean;
  canRun: boolean;
}

/** Every prompt version of an LLM loop with the figures of the frames it produced. */
export async function listPromptVersions(deps: { db: Db }, actor: Actor, raw: ListPromptVersionsInput): Promise<PromptVersionList> {
  const { loopId } = parseInput(listPromptVersionsSchema, raw);
  const loop = await findPromptLoop(deps.db, actor, loopId, "view");
  const scope = scopeFor(actor, "view");
  const [versions, figures, rollout] = await Promise.all([
    selectPromptVersions(deps.db, { loopId: loop.id, scope }),
    getPromptVersionFigures(deps.db, { loopId: loop.id, scope }),
    getRunningRollout(deps.db, loop.id),
  ]);
  return {
    loop: { id: loop.id, realm: loop.realm, description: loop.description, activeVersion: loop.activePromptVersion },
    versions: versions.map((version) => ({
      ...version,
      isActive: version.version === loop.activePromptVersion,
      isCandidate: rollout?.candidateVersion === version.version,
      figures: figures.get(version.version) ?? emptyFigures(version.version),
    })),
    rollout,
    canEdit: can(actor, "edit", loop.realm),
    canPromote: can(actor, "promote", loop.realm),
    canRun: can(actor, "run", loop.realm),
  };
}
