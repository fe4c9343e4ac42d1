import { z } from "zod";
import type { Db } from "../../db/client";
import { appendAuditEvent } from "../../db/queries/audit";
import { getRun } from "../../db/queries/runs";
import { AppError } from "../errors";
import type { Executor } from "../runtime";
import { assertCan, scopeFor, type Actor } from "./actor";

export const cancelRunSchema = z.object({ runId: z.uuid() });
export type CancelRunInput = z.input<typeof cancelRunSchema>;

export interface CancelRunDeps {
  db: Db;
  /** The in-process executor, or the cluster executor (which cancels wherever the frames run). */
  executor: Executor & { cancelRun?(runId: string, reason?: string): Promise<boolean> };
}

/**
 * Cancels a running run and every running and queued frame under it. Operators, maintainers
 * and admins of the run's realm may; a run of another realm does not exist for the caller.
 */
export async function cancelRun(deps: CancelRunDeps, actor: Actor, raw: CancelRunInput): Promise<{ runId: string; status: "cancelling" }> {
  const parsed = cancelRunSchema.safeParse(raw);
  if (!parsed.success) throw new AppError("not_found", "Run does not exist");
  const { runId } = parsed.data;
  const run = await getRun(deps.db, { runId, scope: scopeFor(actor, "view") });
  if (!run) throw new AppError("not_found", `Run ${runId} does not exist`);
  assertCan(actor, "run", run.realmId, `Run ${runId}`);
  if (run.status !== "running") throw new AppError("conflict", `Run ${runId} has already ended (${run.status})`);
  const reason = `Cancelled by ${actor.identity.subject}`;
  const isCancelled = deps.executor.cancelRun ? await deps.executor.cancelRun(runId, reason) : deps.executor.cancel(runId, reason);
  if (!isCancelled) throw new AppError("conflict", `Run ${runId} is not executing here any more`);
  await appendAuditEvent(deps.db, {
    action: "run.cancelled",
    actor: { subject: actor.identity.subject, kind: actor.identity.kind, source: actor.identity.source },
    realmId: run.realmId,
    targetType: "run",
    targetId: runId,
    data: { loopId: run.loopId },
  });
  return { runId, status: "cancelling" };
}
