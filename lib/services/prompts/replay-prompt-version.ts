import { z } from "zod";
import type { Db } from "../../../db/client";
import { appendAuditEvent } from "../../../db/queries/audit";
import { getScopedPromptVersion, listRunOutcomes } from "../../../db/queries/prompts";
import { AppError, isAppError } from "../../errors";
import type { Executor } from "../../runtime";
import { scopeFor, type Actor } from "../actor";
import { auditActor, findPromptLoop, loopIdField, parseInput, versionField } from "./prompt-loop";

/** A form sends the chosen runs as repeated fields or one comma-separated value. */
const runIdList = z.preprocess(
  (value) => (typeof value === "string" ? value.split(",").map((id) => id.trim()).filter(Boolean) : value),
  z.array(z.uuid()).min(1, "Choose at least one run").max(20, "Replay at most 20 runs at a time"),
);

export const replayPromptVersionSchema = z.object({ loopId: loopIdField, version: versionField, runIds: runIdList });
export type ReplayPromptVersionInput = z.input<typeof replayPromptVersionSchema>;

export interface ReplayPair {
  sourceRunId: string;
  /** Null when the replay could not start (the input no longer fits the loop, say). */
  replayRunId: string | null;
  error: string | null;
}

export interface ReplayResult {
  loopId: string;
  version: number;
  pairs: ReplayPair[];
}

/**
 * Runs `version` of an LLM loop on the inputs of runs the caller chose, as new runs of their own
 * (the caller's identity, authorized like any run) whose frames of this loop record the reason
 * `replay`. Returns at once; the runs go on in the background, to be compared with their sources.
 */
export async function replayPromptVersion(deps: { db: Db; executor: Executor }, actor: Actor, raw: ReplayPromptVersionInput): Promise<ReplayResult> {
  const input = parseInput(replayPromptVersionSchema, raw);
  const loop = await findPromptLoop(deps.db, actor, input.loopId, "run");
  const scope = scopeFor(actor, "view");
  if (!(await getScopedPromptVersion(deps.db, { loopId: loop.id, version: input.version, scope }))) {
    throw new AppError("not_found", `Version ${input.version} of loop "${loop.id}" does not exist`);
  }
  const runIds = [...new Set(input.runIds)];
  const sources = new Map((await listRunOutcomes(deps.db, { runIds, scope })).map((run) => [run.runId, run]));
  for (const id of runIds) {
    if (sources.get(id)?.loopId !== loop.id) throw new AppError("not_found", `Run ${id} of loop "${loop.id}" does not exist`);
  }

  const pairs: ReplayPair[] = [];
  for (const id of runIds) {
    try {
      const started = await deps.executor.start(loop.id, sources.get(id)!.input, {
        identity: actor.identity,
        promptOverride: { loopId: loop.id, version: input.version },
      });
      // The run records how it ended; this only catches a failure to record that.
      started.done.catch((error: unknown) => console.error(`Replay run ${started.runId} could not be finished:`, error));
      pairs.push({ sourceRunId: id, replayRunId: started.runId, error: null });
    } catch (error) {
      if (!isAppError(error)) throw error;
      pairs.push({ sourceRunId: id, replayRunId: null, error: error.message });
    }
  }
  await appendAuditEvent(deps.db, {
    action: "prompt.replayed",
    actor: auditActor(actor),
    realmId: loop.realm,
    targetType: "loop",
    targetId: loop.id,
    data: { version: input.version, pairs: pairs.map(({ sourceRunId, replayRunId }) => ({ sourceRunId, replayRunId })) },
  });
  return { loopId: loop.id, version: input.version, pairs };
}
