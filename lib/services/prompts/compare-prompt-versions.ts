import { z } from "zod";
import type { Db } from "../../../db/client";
import { emptyFigures, getPromptVersionFigures, getScopedPromptVersion, listRunOutcomes, type PromptVersionFigures, type RunOutcome } from "../../../db/queries/prompts";
import { listRunScores, type Score } from "../../../db/queries/scores";
import { AppError } from "../../errors";
import type { PromptVersion } from "../../runtime/types";
import { can, scopeFor, type Actor } from "../actor";
import { findPromptLoop, loopIdField, parseInput, versionField } from "./prompt-loop";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `source:replay,source:replay…` from a URL; malformed pairs are dropped rather than failing the page. */
const replayPairs = z
  .string()
  .max(2000)
  .optional()
  .transform((value) =>
    (value ?? "")
      .split(",")
      .map((pair) => pair.split(":"))
      .filter((parts): parts is [string, string] => parts.length === 2 && UUID.test(parts[0]!) && UUID.test(parts[1]!))
      .slice(0, 20),
  )
  .catch([]);

export const comparePromptVersionsSchema = z.object({ loopId: loopIdField, a: versionField, b: versionField, replays: replayPairs });
export type ComparePromptVersionsInput = z.input<typeof comparePromptVersionsSchema>;

export interface ComparedVersion {
  version: PromptVersion;
  isActive: boolean;
  figures: PromptVersionFigures;
}

export interface ComparedRun extends RunOutcome {
  /** Scores of the run's root frame. */
  scores: Score[];
}

export interface PromptComparison {
  loopId: string;
  a: ComparedVersion;
  b: ComparedVersion;
  /** Each replayed input: the original run and the replay, side by side. */
  replays: { source: ComparedRun; replay: ComparedRun }[];
  canRun: boolean;
}

/** Two versions side by side with their figures, and the outcomes of replays between them. */
export async function comparePromptVersions(deps: { db: Db }, actor: Actor, raw: ComparePromptVersionsInput): Promise<PromptComparison> {
  const input = parseInput(comparePromptVersionsSchema, raw);
  const loop = await findPromptLoop(deps.db, actor, input.loopId, "view");
  const scope = scopeFor(actor, "view");
  const runIds = input.replays.flat();
  const [a, b, figures, outcomes, scores] = await Promise.all([
    getScopedPromptVersion(deps.db, { loopId: loop.id, version: input.a, scope }),
    getScopedPromptVersion(deps.db, { loopId: loop.id, version: input.b, scope }),
    getPromptVersionFigures(deps.db, { loopId: loop.id, scope, versions: [input.a, input.b] }),
    listRunOutcomes(deps.db, { runIds, scope }),
    listRunScores(deps.db, { runIds, scope }),
  ]);
  if (!a) throw new AppError("not_found", `Version ${input.a} of loop "${loop.id}" does not exist`);
  if (!b) throw new AppError("not_found", `Version ${input.b} of loop "${loop.id}" does not exist`);

  const runs = new Map(
    outcomes
      .filter((run) => run.loopId === loop.id)
      .map((run) => [run.runId, { ...run, scores: scores.filter((s) => s.frameId === run.rootFrameId) }] as const),
  );
  const compared = (prompt: PromptVersion): ComparedVersion => ({
    version: prompt,
    isActive: prompt.version === loop.activePromptVersion,
    figures: figures.get(prompt.version) ?? emptyFigures(prompt.version),
  });
  return {
    loopId: loop.id,
    a: compared(a),
    b: compared(b),
    replays: input.replays.flatMap(([sourceId, replayId]) => {
      const source = runs.get(sourceId);
      const replay = runs.get(replayId);
      return source && replay ? [{ source, replay }] : [];
    }),
    canRun: can(actor, "run", loop.realm),
  };
}
