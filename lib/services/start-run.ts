import { z } from "zod";
import type { Db } from "../../db/client";
import { getLoop } from "../../db/queries/loops";
import { AppError } from "../errors";
import type { Executor } from "../runtime";
import { DEFAULT_MAX_INPUT_BYTES } from "../runtime/run-input";
import { assertCan, scopeFor, type Actor } from "./actor";

/** The largest run input accepted from a person or a service, in bytes of JSON: the executors' own limit. */
export const MAX_RUN_INPUT_BYTES = DEFAULT_MAX_INPUT_BYTES;

export const startRunSchema = z.object({
  loopId: z.string().min(1).max(100),
  input: z.unknown(),
});
export type StartRunInput = z.input<typeof startRunSchema>;

export interface StartRunDeps {
  db: Db;
  executor: Executor;
}

/**
 * Starts a run of a loop and returns as soon as it is recorded; the run goes on in the
 * background and its trace fills in as it executes. Only operators, maintainers and admins
 * of the loop's realm may start one; the runtime authorizes every frame again, children too.
 */
export async function startRun(deps: StartRunDeps, actor: Actor, raw: StartRunInput): Promise<{ runId: string; loopId: string }> {
  const parsed = startRunSchema.safeParse(raw);
  if (!parsed.success) throw new AppError("not_found", "Loop does not exist");
  const { loopId } = parsed.data;
  const input = parsed.data.input ?? {};
  const loop = await getLoop(deps.db, { loopId, scope: scopeFor(actor, "view") });
  if (!loop) throw new AppError("not_found", `Loop "${loopId}" does not exist`);
  assertCan(actor, "run", loop.realm, `Loop "${loopId}"`);

  // The executor checks the input itself (depth, size, schema) before it records anything.
  const started = await deps.executor.start(loop.id, input, { identity: actor.identity });
  // The run's own status records how it ended; this only catches a failure to record that.
  started.done.catch((error: unknown) => console.error(`Run ${started.runId} could not be finished:`, error));
  return { runId: started.runId, loopId: loop.id };
}
