import { z } from "zod";
import type { Db } from "../../../db/client";
import { getScopedPromptVersion } from "../../../db/queries/prompts";
import { AppError } from "../../errors";
import { diffLines, type LineDiff } from "../../prompts/line-diff";
import type { PromptVersion } from "../../runtime/types";
import { scopeFor, type Actor } from "../actor";
import { findPromptLoop, loopIdField, parseInput, versionField } from "./prompt-loop";

export const diffPromptVersionsSchema = z.object({ loopId: loopIdField, from: versionField, to: versionField });
export type DiffPromptVersionsInput = z.input<typeof diffPromptVersionsSchema>;

export interface ParamChange {
  name: keyof PromptVersion["params"];
  from: string | number | null;
  to: string | number | null;
}

export interface PromptVersionDiff {
  loopId: string;
  activeVersion: number | null;
  from: PromptVersion;
  to: PromptVersion;
  systemPrompt: LineDiff;
  /** Every model parameter, marked by whether it changed. */
  params: (ParamChange & { changed: boolean })[];
}

const PARAM_NAMES: ParamChange["name"][] = ["model", "maxTokens", "temperature"];

/** The system prompt of two versions, line by line, and their model parameters. */
export async function diffPromptVersions(deps: { db: Db }, actor: Actor, raw: DiffPromptVersionsInput): Promise<PromptVersionDiff> {
  const input = parseInput(diffPromptVersionsSchema, raw);
  const loop = await findPromptLoop(deps.db, actor, input.loopId, "view");
  const scope = scopeFor(actor, "view");
  const [from, to] = await Promise.all([
    getScopedPromptVersion(deps.db, { loopId: loop.id, version: input.from, scope }),
    getScopedPromptVersion(deps.db, { loopId: loop.id, version: input.to, scope }),
  ]);
  if (!from) throw new AppError("not_found", `Version ${input.from} of loop "${loop.id}" does not exist`);
  if (!to) throw new AppError("not_found", `Version ${input.to} of loop "${loop.id}" does not exist`);
  return {
    loopId: loop.id,
    activeVersion: loop.activePromptVersion,
    from,
    to,
    systemPrompt: diffLines(from.systemPrompt, to.systemPrompt),
    params: PARAM_NAMES.map((name) => {
      const a = from.params[name] ?? null;
      const b = to.params[name] ?? null;
      return { name, from: a, to: b, changed: a !== b };
    }),
  };
}
