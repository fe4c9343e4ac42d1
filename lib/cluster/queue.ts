import { PgBoss, fromPglite, type ConstructorOptions, type Queue } from "pg-boss";
import { z } from "zod";
import type { DatabaseHandle } from "../../db/client";
import { prepared } from "../../db/prepared-statement";
import { bossDb, type SqlExecutor } from "./sql";
import { derivedId } from "./ids";

/** Every step of every run: an LLM turn, an HTTP or MCP loop, or an MCP tool call of an LLM turn. */
export const STEP_QUEUE = "loopstacks.steps";
/** Steps that failed every retry, or kept killing the worker that ran them. */
export const DEAD_LETTER_QUEUE = "loopstacks.steps.dead";

/** A worker that stops sending heartbeats loses its steps to other workers after this long. */
export const STEP_HEARTBEAT_SECONDS = 10;

export const STEP_QUEUE_OPTIONS: Omit<Queue, "name"> = {
  deadLetter: DEAD_LETTER_QUEUE,
  retryLimit: 3,
  retryDelay: 1,
  retryBackoff: true,
  retryDelayMax: 30,
  heartbeatSeconds: STEP_HEARTBEAT_SECONDS,
  // Heartbeats catch crashed workers; this only bounds a step that hangs while its worker lives.
  expireInSeconds: 3_600,
  deleteAfterSeconds: 24 * 3_600,
};

const DEAD_LETTER_QUEUE_OPTIONS: Omit<Queue, "name"> = {
  retryLimit: 5,
  retryDelay: 5,
  // Kept for the console: what failed, how often, and why.
  deleteAfterSeconds: 30 * 24 * 3_600,
  retentionSeconds: 30 * 24 * 3_600,
};

const promptOverrideSchema = z.object({ loopId: z.string().min(1), version: z.number().int().min(1) }).strict();

/** A queue payload is read back by another process, possibly another release: validate it. */
export const stepJobSchema = z.discriminatedUnion("kind", [
  z
    .object({
      v: z.literal(1),
      kind: z.literal("frame"),
      runId: z.uuid(),
      frameId: z.uuid(),
      /** How often this step has been put back for a concurrency or rate limit. */
      deferrals: z.number().int().min(0).default(0),
      promptOverride: promptOverrideSchema.optional(),
    })
    .strict(),
  z
    .object({
      v: z.literal(1),
      kind: z.literal("tool"),
      runId: z.uuid(),
      frameId: z.uuid(),
      toolUseId: z.string().min(1).max(200),
      deferrals: z.number().int().min(0).default(0),
    })
    .strict(),
]);
export type StepJob = z.output<typeof stepJobSchema>;
export type StepJobInput = z.input<typeof stepJobSchema>;

export interface StepJobInsert {
  id: string;
  data: StepJobInput;
  /** Seconds to wait before the step may run. */
  startAfter?: number;
  /** Concurrency accounting: pg-boss's group columns carry the loop and its realm. */
  group?: { id: string; tier: string };
}

/** The first step of a frame, or its resumption after the children of `afterTurn` ended. */
export function frameStepJob(
  runId: string,
  frameId: string,
  options: { afterTurn?: number; promptOverride?: { loopId: string; version: number } | undefined; group?: { id: string; tier: string } } = {},
): StepJobInsert {
  const key = options.afterTurn === undefined ? "start" : `after-turn-${options.afterTurn}`;
  return {
    id: derivedId("step", frameId, key),
    data: { v: 1, kind: "frame", runId, frameId, ...(options.promptOverride ? { promptOverride: options.promptOverride } : {}) },
    ...(options.group ? { group: options.group } : {}),
  };
}

export function toolStepJob(runId: string, frameId: string, toolUseId: string): StepJobInsert {
  return { id: derivedId("step", frameId, "tool", toolUseId), data: { v: 1, kind: "tool", runId, frameId, toolUseId } };
}

export interface BossOptions {
  /** Workers supervise: they expire the steps of dead workers and move poison to the dead-letter queue. */
  supervise: boolean;
  superviseIntervalSeconds?: number;
  applicationName?: string;
}

/** pg-boss on the same database as the runs, in its own `pgboss` schema. */
export function createBoss(target: { url: string } | { handle: DatabaseHandle }, options: BossOptions): PgBoss {
  const base: ConstructorOptions = {
    schedule: false,
    registerInstance: false,
    supervise: options.supervise,
    superviseIntervalSeconds: options.superviseIntervalSeconds ?? 5,
    monitorIntervalSeconds: options.superviseIntervalSeconds ?? 5,
    openTelemetry: { enabled: false },
  };
  if ("url" in target) {
    return new PgBoss({ ...base, connectionString: target.url, max: 4, ...(options.applicationName ? { application_name: options.applicationName } : {}) });
  }
  const { handle } = target;
  if (handle.pglite) return new PgBoss({ ...base, db: fromPglite(handle.pglite as Parameters<typeof fromPglite>[0]), backend: "pglite" });
  if (handle.pool) {
    const pool = handle.pool;
    return new PgBoss({ ...base, db: { executeSql: (text, values) => pool.query(prepared(text, values)) } });
  }
  throw new Error(`pg-boss cannot run on this ${handle.kind} database handle`);
}

/** Creates both queues; safe to call from every process on every start. */
export async function ensureQueues(boss: PgBoss): Promise<void> {
  await boss.createQueue(DEAD_LETTER_QUEUE, DEAD_LETTER_QUEUE_OPTIONS);
  await boss.createQueue(STEP_QUEUE, STEP_QUEUE_OPTIONS);
}

/**
 * Enqueues steps inside the caller's transaction; ids already present are skipped. With
 * `notify`, idle workers wake at once (on commit) instead of at their next poll.
 */
export async function enqueueSteps(boss: PgBoss, tx: SqlExecutor, jobs: StepJobInsert[], options: { notify?: boolean } = { notify: true }): Promise<void> {
  if (jobs.length === 0) return;
  await boss.insert(
    STEP_QUEUE,
    jobs.map((job) => ({
      id: job.id,
      data: job.data,
      ...(job.startAfter ? { startAfter: job.startAfter } : {}),
      ...(job.group ? { group: job.group } : {}),
    })),
    { db: bossDb(tx) },
  );
  if (options.notify) await tx.query("select pg_notify($1, '')", [WORK_CHANNEL]);
}

/** NOTIFY channels the cluster processes listen on. */
export const WORK_CHANNEL = "loopstacks_work";
export const RUN_ENDED_CHANNEL = "loopstacks_run_ended";
export const RUN_CANCELLED_CHANNEL = "loopstacks_run_cancelled";
/** Frames ended from outside their steps (a parent's timeout), as comma-separated ids. */
export const FRAMES_ENDED_CHANNEL = "loopstacks_frames_ended";
