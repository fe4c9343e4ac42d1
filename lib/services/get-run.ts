import { z } from "zod";
import type { Db } from "../../db/client";
import { appendAuditEvent } from "../../db/queries/audit";
import { getRun as selectRun, getRunTree } from "../../db/queries/runs";
import { AppError } from "../errors";
import { walkTrace } from "../runtime/trace";
import type { FrameError, TraceFrame } from "../runtime/types";
import { scopeFor, type Actor } from "./actor";
import { toRunSummary, type RunSummary } from "./list-runs";

export const getRunSchema = z.object({ runId: z.uuid() });
export type GetRunInput = z.input<typeof getRunSchema>;

export interface RunDetail {
  run: RunSummary & {
    input: unknown;
    output: unknown;
    error: FrameError | null;
    identity: { subject: string; displayName: string | null; source: string | null };
  };
  /** The Loop Stack Tree as far as it has run; frames in realms the caller cannot view are left out. */
  trace: TraceFrame | null;
}

export interface GetRunOptions {
  /** Records a `trace.viewed` audit event: set when a person opens the run, not on each refresh. */
  recordView?: boolean;
}

/** One run and its trace, from a realm the caller can view; `not_found` otherwise. */
export async function getRun(deps: { db: Db }, actor: Actor, raw: GetRunInput, options: GetRunOptions = {}): Promise<RunDetail> {
  const parsed = getRunSchema.safeParse(raw);
  if (!parsed.success) throw new AppError("not_found", "Run does not exist");
  const { runId } = parsed.data;
  const scope = scopeFor(actor, "view");
  const row = await selectRun(deps.db, { runId, scope });
  if (!row) throw new AppError("not_found", `Run ${runId} does not exist`);
  const trace = await getRunTree(deps.db, { runId, scope });

  const summary = toRunSummary(row);
  if (row.status === "running" && trace) {
    // Totals are written when a run ends; while it runs, count what the trace holds so far.
    let frames = 0;
    let inputTokens = 0;
    let outputTokens = 0;
    for (const frame of walkTrace(trace)) {
      frames++;
      inputTokens += frame.usage.inputTokens;
      outputTokens += frame.usage.outputTokens;
    }
    Object.assign(summary, { frameCount: frames, inputTokens, outputTokens });
  }
  const identity = row.identity as { subject?: unknown; displayName?: unknown; source?: unknown };
  if (options.recordView) {
    await appendAuditEvent(deps.db, {
      action: "trace.viewed",
      actor: { subject: actor.identity.subject, kind: actor.identity.kind, source: actor.identity.source },
      realmId: row.realmId,
      targetType: "run",
      targetId: row.id,
      data: { loopId: row.loopId },
    });
  }
  return {
    run: {
      ...summary,
      input: row.input,
      output: row.output,
      error: (row.error as FrameError | null) ?? null,
      identity: {
        subject: typeof identity.subject === "string" ? identity.subject : row.caller,
        displayName: typeof identity.displayName === "string" ? identity.displayName : null,
        source: typeof identity.source === "string" ? identity.source : null,
      },
    },
    trace,
  };
}
