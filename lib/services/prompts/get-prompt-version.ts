import { z } from "zod";
import type { Db } from "../../../db/client";
import { emptyFigures, getPromptVersionFigures, getScopedPromptVersion, type PromptVersionFigures } from "../../../db/queries/prompts";
import { AppError } from "../../errors";
import type { PromptVersion } from "../../runtime/types";
import { can, scopeFor, type Actor } from "../actor";
import { findPromptLoop, loopIdField, parseInput, versionField } from "./prompt-loop";

export const getPromptVersionSchema = z.object({ loopId: loopIdField, version: versionField });
export type GetPromptVersionInput = z.input<typeof getPromptVersionSchema>;

export interface PromptVersionDetail {
  loop: { id: string; realm: string; activeVersion: number | null };
  version: PromptVersion;
  isActive: boolean;
  figures: PromptVersionFigures;
  canPromote: boolean;
}

export async function getPromptVersion(deps: { db: Db }, actor: Actor, raw: GetPromptVersionInput): Promise<PromptVersionDetail> {
  const { loopId, version } = parseInput(getPromptVersionSchema, raw);
  const loop = await findPromptLoop(deps.db, actor, loopId, "view");
  const scope = scopeFor(actor, "view");
  const [prompt, figures] = await Promise.all([
    getScopedPromptVersion(deps.db, { loopId: loop.id, version, scope }),
    getPromptVersionFigures(deps.db, { loopId: loop.id, scope, versions: [version] }),
  ]);
  if (!prompt) throw new AppError("not_found", `Version ${version} of loop "${loop.id}" does not exist`);
  return {
    loop: { id: loop.id, realm: loop.realm, activeVersion: loop.activePromptVersion },
    version: prompt,
    isActive: prompt.version === loop.activePromptVersion,
    figures: figures.get(version) ?? emptyFigures(version),
    canPromote: can(actor, "promote", loop.realm),
  };
}
