import { randomUUID } from "node:crypto";
import type { PgBoss } from "pg-boss";
import type { DatabaseHandle } from "../../db/client";
import { AUDIT_APPEND_SQL, auditActorOf, prepareAuditAppend, type AuditAppendRow } from "../../db/queries/audit";
import { AppError } from "../errors";
import type { Executor, RunOptions, StartedRun } from "../runtime/executor";
import { checkRunInput, checkRunTimeout, DEFAULT_MAX_INPUT_BYTES } from "../runtime/run-input";
import { createSchemaValidator, type SchemaValidator } from "../runtime/json-schema";
import type { RuntimeStore } from "../runtime/store";
import { storableJson } from "../runtime/storable.mjs";
import type { Clock, FrameError, RegisteredLoop, RunResult, RunStatus } from "../runtime/types";
import { listen, type Listener } from "./listener";
import { createBoss, enqueueSteps, ensureQueues, frameStepJob, RUN_ENDED_CHANNEL } from "./queue";
import { guardPoolConnections, handleDatabase, type SqlDatabase } from "./sql";
import { endRunEarly } from "./state";

export interface ClusterExecutorOptions {
  handle: DatabaseHandle;
  store: RuntimeStore;
  clock?: Clock;
  validator?: SchemaValidator;
  newId?: () => string;
  /** Largest accepted run input, in bytes of JSON. */
  maxInputBytes?: number;
  /** How often waiting callers look at their runs when no notification arrives. */
  pollMs?: number;
  /** A pg-boss instance this process already runs; otherwise the executor starts its own, without supervision. */
  boss?: PgBoss;
  log?: (message: string) => void;
}

/** The executor of the console and API processes in cluster mode: it records runs, the workers execute them. */
export interface ClusterExecutor extends Executor {
  /**
   * Cancels a run wherever its frames are: the run and every queued or running frame end
   * `cancelled`, and workers abort what they are executing for it. False when it had already ended.
   */
  cancelRun(runId: string, reason?: string): Promise<boolean>;
  /** Stops listening and polling; runs keep executing on the workers. */
  close(): Promise<void>;
}

interface Waiter {
  resolve(result: RunResult): void;
  reject(error: unknown): void;
  deadlineAt: Date | null;
}

/** Most runs recorded in one transaction. */
const MAX_START_BATCH = 200;
const LIVE_STATUSES = ["queued", "running"];

export async function createClusterExecutor(options: ClusterExecutorOptions): Promise<ClusterExecutor> {
  const { handle, store } = options;
  const clock = options.clock ?? { now: () => new Date() };
  const validator = options.validator ?? createSchemaValidator();
  const newId = options.newId ?? randomUUID;
  const maxInputBytes = options.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES;
  const log = options.log ?? (() => {});
  if (handle.pool) guardPoolConnections(handle.pool, log);
  const db: SqlDatabase = handleDatabase(handle);
  const ownsBoss = !options.boss;
  const boss = options.boss ?? createBoss({ handle }, { supervise: false });
  if (ownsBoss) {
    boss.on("error", (error) => log(`queue: ${error.message}`));
    await boss.start();
  }
  await ensureQueues(boss);

  const waiters = new Map<string, Waiter[]>();
  const pending = new Set<Promise<unknown>>();
  const track = <T>(promise: Promise<T>): Promise<T> => {
    pending.add(promise);
    void promise.finally(() => pending.delete(promise)).catch(() => {});
    return promise;
  };

  /** Resolves the callers of every run among `runIds` that has ended. */
  async function check(runIds: string[]): Promise<void> {
    if (runIds.length === 0) return;
    const { rows } = await db.query<{ id: string; status: RunStatus; output: unknown; error: FrameError | null }>(
      `select id, status, output, error from runs where id = any($1::uuid[]) and status <> all($2::text[])`,
      [runIds, LIVE_STATUSES],
    );
    for (const row of rows) {
      const callers = waiters.get(row.id);
      if (!callers) continue;
      // A failed read leaves the callers waiting: the next poll reads the trace again.
      const trace = await store.getTrace(row.id);
      if (!waiters.delete(row.id)) continue;
      if (!trace) {
        for (const caller of callers) caller.reject(new AppError("internal", `Run ${row.id} ended without a trace`));
        continue;
      }
      for (const caller of callers) caller.resolve({ runId: row.id, status: row.status, output: row.output, error: row.error, trace });
    }
  }

  let checking = false;
  async function poll(): Promise<void> {
    if (checking || waiters.size === 0) return;
    checking = true;
    try {
      const now = clock.now().getTime();
      for (const [runId, callers] of waiters) {
        // Deadlines are also enforced by the workers; this covers a cluster with none running.
        if (callers.some((c) => c.deadlineAt && c.deadlineAt.getTime() <= now)) {
          await endRunEarly(db, runId, { status: "failed", error: { code: "run_timeout", message: "The run exceeded its deadline" } }, clock.now());
        }
      }
      await check([...waiters.keys()]);
    } catch (error) {
      log(`run status: ${(error as Error).message}`);
    } finally {
      checking = false;
    }
  }
  const timer = setInterval(() => void poll(), options.pollMs ?? 1_000);
  const listener: Listener = listen(handle, {
    handlers: {
      [RUN_ENDED_CHANNEL]: (runId) => {
        if (waiters.has(runId)) void check([runId]).catch((error: Error) => log(`run status: ${error.message}`));
      },
    },
    onConnect: () => void poll(),
    log,
  });

  function wait(runId: string, deadlineAt: Date | null): Promise<RunResult> {
    return new Promise<RunResult>((resolve, reject) => {
      const callers = waiters.get(runId) ?? [];
      callers.push({ resolve, reject, deadlineAt });
      waiters.set(runId, callers);
      // The run may have ended before this caller started listening.
      void check([runId]).catch((error: Error) => log(`run status: ${error.message}`));
    });
  }

  async function cancelRun(runId: string, reason = "The run was cancelled"): Promise<boolean> {
    return endRunEarly(db, runId, { status: "cancelled", error: { code: "cancelled", message: reason } }, clock.now());
  }

  /** Concurrent reads of the same loop share one query; the next start reads it afresh. */
  const loopReads = new Map<string, Promise<RegisteredLoop | null>>();
  function readLoop(loopId: string): Promise<RegisteredLoop | null> {
    let read = loopReads.get(loopId);
    if (!read) {
      read = store.getLoop(loopId).finally(() => loopReads.delete(loopId));
      loopReads.set(loopId, read);
    }
    return read;
  }

  interface NewRunRecord {
    runId: string;
    rootFrameId: string;
    loop: RegisteredLoop;
    input: unknown;
    identity: RunOptions["identity"];
    createdAt: Date;
    deadlineAt: Date | null;
    promptOverride: RunOptions["promptOverride"];
    evaluatesFrameId: string | null;
  }

  /**
   * Runs started in the same moment (a burst of API calls) are recorded and enqueued in one
   * transaction instead of one each: the connections of a console process are few.
   */
  let batch: { runs: NewRunRecord[]; settled: Promise<void> } | null = null;
  function record(run: NewRunRecord): Promise<void> {
    if (!batch) {
      const current: { runs: NewRunRecord[]; settled: Promise<void> } = { runs: [], settled: Promise.resolve() };
      current.settled = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        if (batch === current) batch = null;
        return insertRuns(current.runs);
      });
      batch = current;
    }
    batch.runs.push(run);
    if (batch.runs.length >= MAX_START_BATCH) {
      const full = batch;
      batch = null;
      return full.settled;
    }
    return batch.settled;
  }

  async function insertRuns(records: NewRunRecord[]): Promise<void> {
    const pendingAuthorization = (realm: string, at: Date) => ({
      allowed: false,
      action: "invoke",
      realm,
      role: null,
      via: null,
      reason: "not checked yet: the frame is queued and is authorized when a worker starts it",
      checkedAt: at.toISOString(),
    });
    const rowsJson = records.map((r) => ({
      id: r.runId,
      frame_id: r.rootFrameId,
      realm_id: r.loop.realm,
      loop_id: r.loop.id,
      loop_revision: r.loop.revision,
      loop_type: r.loop.type,
      input: r.input ?? null,
      identity: r.identity,
      caller: r.identity.subject,
      created_at: r.createdAt.toISOString(),
      deadline_at: r.deadlineAt?.toISOString() ?? null,
      evaluates_frame_id: r.evaluatesFrameId,
      prompt_override: r.promptOverride ?? null,
      authorization: pendingAuthorization(r.loop.realm, r.createdAt),
    }));
    await db.transaction(async (tx) => {
      await tx.query(
        `with x as (
           select * from jsonb_to_recordset($1::jsonb) as x(id uuid, frame_id uuid, realm_id text, loop_id text, loop_revision int, loop_type text,
                  input jsonb, identity jsonb, caller text, created_at timestamptz, deadline_at timestamptz, evaluates_frame_id uuid, prompt_override jsonb,
                  "authorization" jsonb)
         ), r as (
           insert into runs (id, realm_id, loop_id, loop_revision, status, input, identity, caller, frame_count, created_at, started_at, deadline_at,
                  evaluates_frame_id, prompt_override)
           select id, realm_id, loop_id, loop_revision, 'queued', input, identity, caller, 1, created_at, created_at, deadline_at,
                  evaluates_frame_id, prompt_override from x
         )
         insert into frames (id, run_id, depth, seq, realm_id, loop_id, loop_revision, loop_type, status, input, identity, "authorization", created_at)
         select frame_id, id, 0, 0, realm_id, loop_id, loop_revision, loop_type, 'queued', input, identity, "authorization", created_at from x`,
        // One caller's unstorable character must not fail the others' runs started with it.
        [storableJson(rowsJson)],
      );
      // Each run's start is audited in the transaction that records it: no run is queued unaudited.
      for (const r of records) {
        const append = prepareAuditAppend({
          action: "run.started",
          actor: auditActorOf(r.identity),
          realmId: r.loop.realm,
          targetType: "run",
          targetId: r.runId,
          data: { loopId: r.loop.id, revision: r.loop.revision, engine: "cluster" },
          at: r.createdAt,
        });
        append.event((await tx.query<AuditAppendRow>(AUDIT_APPEND_SQL, append.params)).rows);
      }
      await enqueueSteps(
        boss,
        tx,
        records.map((r) => frameStepJob(r.runId, r.rootFrameId, { promptOverride: r.promptOverride, group: { id: r.loop.id, tier: r.loop.realm } })),
      );
    });
  }

  async function start(loopId: string, given: unknown, runOptions: RunOptions): Promise<StartedRun> {
    checkRunTimeout(runOptions.timeoutMs);
    const loop = await readLoop(loopId);
    if (!loop) throw new AppError("not_found", `Loop "${loopId}" does not exist`);
    const input = checkRunInput(loop, given, { maxInputBytes, validator, evaluation: runOptions.evaluates !== undefined });
    const runId = newId();
    const createdAt = clock.now();
    const deadlineAt = runOptions.timeoutMs !== undefined ? new Date(createdAt.getTime() + runOptions.timeoutMs) : null;
    const identity = runOptions.identity;
    await record({ runId, rootFrameId: newId(), loop, input, identity, createdAt, deadlineAt, promptOverride: runOptions.promptOverride, evaluatesFrameId: runOptions.evaluates?.frameId ?? null });

    const onCallerAbort = () => void track(cancelRun(runId, "The run was cancelled by its caller"));
    if (runOptions.signal?.aborted) onCallerAbort();
    else runOptions.signal?.addEventListener("abort", onCallerAbort, { once: true });
    const done = track(wait(runId, deadlineAt).finally(() => runOptions.signal?.removeEventListener("abort", onCallerAbort)));
    return { runId, done };
  }

  return {
    start,
    async run(loopId, input, runOptions) {
      return (await start(loopId, input, runOptions)).done;
    },
    cancel(runId, reason) {
      void track(cancelRun(runId, reason)).catch((error: Error) => log(`cancel ${runId}: ${error.message}`));
      return true;
    },
    cancelRun,
    async drain() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    async close() {
      clearInterval(timer);
      await listener.close();
      for (const [runId, callers] of waiters) {
        for (const caller of callers) caller.reject(new AppError("unavailable", `Stopped waiting for run ${runId}: the executor was closed`));
      }
      waiters.clear();
      if (ownsBoss) await boss.stop({ graceful: false, close: false }).catch(() => {});
    },
  };
}
