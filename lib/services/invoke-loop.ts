import { z } from "zod";
import type { Db } from "../../db/client";
import { getLoop } from "../../db/queries/loops";
import { AppError } from "../errors";
import type { Executor } from "../runtime";
import type { FrameError, RunStatus, TraceFrame } from "../runtime/types";
import { assertCan, scopeFor, type Actor } from "./actor";
import { getRun } from "./get-run";

export const invokeLoopSchema = z.object({
  loopId: z.string().min(1).max(100),
  input: z.unknown().optional(),
  /** Wait for the run to end and return its output and trace, instead of returning at once. */
  wait: z.boolean().default(false),
});
export type InvokeLoopInput = z.input<typeof invokeLoopSchema>;

/** The longest a caller is kept waiting; after it the run goes on and the caller polls. */
export const MAX_WAIT_MS = 120_000;

export type InvokeLoopResult =
  | { done: false; runId: string; loopId: string; status: RunStatus }
  | { done: true; runId: string; loopId: string; status: RunStatus; output: unknown; error: FrameError | null; trace: TraceFrame | null };

/**
 * Starts a run for an API caller and, when asked, waits for it. Operators, maintainers and
 * admins of the loop's realm may; a loop of a realm the caller cannot view does not exist.
 * The trace returned is the caller's view of it: frames of realms they cannot view are left out.
 */
export async function invokeLoop(
  deps: { db: Db; executor: Executor; maxWaitMs?: number },
  actor: Actor,
  raw: unknown,
): Promise<InvokeLoopResult> {
  const parsed = invokeLoopSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
    throw new AppError("invalid_input", issues.map((i) => `${i.path}: ${i.message}`).join("\n"), { issues });
  }
  const { loopId, wait } = parsed.data;
  const input = parsed.data.input ?? {};
  const loop = await getLoop(deps.db, { loopId, scope: scopeFor(actor, "view") });
  if (!loop) throw new AppError("not_found", `Loop "${loopId}" does not exist`);
  assertCan(actor, "run", loop.realm, `Loop "${loopId}"`);
  // The executor checks the input itself (depth, size, schema) before it records anything.
  const started = await deps.executor.start(loop.id, input, { identity: actor.identity });
  started.done.catch((error: unknown) => console.error(`Run ${started.runId} could not be finished:`, error));
  if (!wait) return { done: false, runId: started.runId, loopId: loop.id, status: "running" };

  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    started.done.then((result) => ({ ended: true as const, result })),
    new Promise<{ ended: false }>((resolve) => {
      timer = setTimeout(() => resolve({ ended: false }), deps.maxWaitMs ?? MAX_WAIT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
  if (!outcome.ended) return { done: false, runId: started.runId, loopId: loop.id, status: "running" };
  const { trace } = await getRun({ db: deps.db }, actor, { runId: started.runId });
  const { result } = outcome;
  return { done: true, runId: result.runId, loopId: loop.id, status: result.status, output: result.output, error: result.error, trace };
}
