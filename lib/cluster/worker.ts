import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import pg from "pg";
import type { Job, JobWithMetadata } from "pg-boss";
import { openDatabase, type DatabaseHandle } from "../../db/client";
import { createDbStore } from "../../db/store";
import { createRealmAuthorizer } from "../runtime/authorizer";
import type { SucceededFrame } from "../runtime/executor";
import { createSchemaValidator } from "../runtime/json-schema";
import { DispatchError, frameTimeoutError } from "../runtime/retry";
import type { RuntimeStore } from "../runtime/store";
import { defaultHttpClient } from "../runtime/http-client";
import type { Authorizer, Clock, HttpClient, McpClientFactory, ModelClient, SecretResolver } from "../runtime/types";
import { createLoopCatalog, withPromptStateReads, withRealmRoleReads } from "./catalog";
import { asInfrastructure } from "./errors";
import { derivedId } from "./ids";
import { createModelRateLimiter, type ClusterLimits } from "./limits";
import { listen, type Listener } from "./listener";
import { createBoss, DEAD_LETTER_QUEUE, enqueueSteps, ensureQueues, FRAMES_ENDED_CHANNEL, RUN_CANCELLED_CHANNEL, STEP_QUEUE, stepJobSchema, WORK_CHANNEL, type StepJob } from "./queue";
import { bossDb, guardPoolConnections, handleDatabase, poolDatabase, type SqlDatabase, type SqlExecutor } from "./sql";
import { endRunEarly, endTimedOutFrame, listEndedFrames, listEndedRuns, listOverdueRuns, listTimedOutFrames, renewLeases } from "./state";
import { runStep, StepSupersededError, WorkerStoppingError, type StepDeps } from "./steps";

export interface WorkerOptions {
  /** A PostgreSQL URL; the worker opens (and closes) its own pool. */
  databaseUrl?: string;
  /** Or a database this process already has open (PGlite included, for embedded use). */
  handle?: DatabaseHandle;
  model: ModelClient;
  mcp: McpClientFactory;
  http?: HttpClient;
  clock?: Clock;
  secrets?: SecretResolver;
  /** Defaults to the realm mappings stored in the database, read for every frame. */
  authorizer?: Authorizer;
  /** Steps this worker executes at once. */
  concurrency?: number;
  /** Connections of its own pool (with `databaseUrl`); steps hold one only while they talk to the database. */
  poolSize?: number;
  workerId?: string;
  /** The LoopStacks version the registry shows for this worker. */
  version?: string;
  limits?: ClusterLimits;
  /** Registry heartbeat, job heartbeats, lease renewal and the cancellation and deadline sweep. */
  heartbeatMs?: number;
  /** How often an idle worker looks for work when no notification wakes it. */
  pollMs?: number;
  /** How often pg-boss supervision expires the steps of dead workers. */
  superviseIntervalSeconds?: number;
  /** On stop, how long steps in progress may take to finish before they are handed back. */
  shutdownGraceMs?: number;
  onFrameSucceeded?: (frame: SucceededFrame) => void;
  log?: (message: string) => void;
}

export interface WorkerStats {
  id: string;
  active: number;
  processed: number;
  failed: number;
  /** Queue fetches, and the steps they returned. */
  fetches: number;
  fetched: number;
}

export interface ClusterWorker {
  readonly id: string;
  stats(): WorkerStats;
  /** Stops taking work, lets steps in progress finish (or hands them back after the grace period), and closes. */
  stop(options?: { graceMs?: number }): Promise<void>;
}

interface ActiveStep {
  job: Job<unknown>;
  data: StepJob;
  controller: AbortController;
  since: Date;
  work: { frameId: string; loopId: string; runId: string } | null;
  done: Promise<void>;
}

const DEFAULT_CONCURRENCY = 10;
/** How long a stopping worker lets steps in progress finish, unless told otherwise. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 15_000;
const DEFAULT_POOL_SIZE = 8;
const STALE_WORKER_ROWS_AFTER_MS = 24 * 3_600_000;
/** Missed registry heartbeats after which a worker's steps are handed to others. */
const SILENT_AFTER_HEARTBEATS = 4;

export async function startWorker(options: WorkerOptions): Promise<ClusterWorker> {
  const id = options.workerId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
  const heartbeatMs = options.heartbeatMs ?? 2_000;
  const pollMs = options.pollMs ?? 250;
  const log = options.log ?? (() => {});
  const clock = options.clock ?? { now: () => new Date() };

  const ownsHandle = !options.handle;
  let handle: DatabaseHandle;
  if (options.handle) handle = options.handle;
  else if (options.databaseUrl) {
    handle = await openDatabase({ url: withApplicationName(options.databaseUrl, `loopstacks-worker ${id}`), poolSize: options.poolSize ?? Math.min(concurrency + 2, DEFAULT_POOL_SIZE) });
    // Its own connections commit without waiting for the WAL flush, as its step transactions do
    // (`isCommitAsync`): a claim, an admission or a fetch lost to a database crash is made again
    // when the step is retried. Set on each connection before the pool first hands it out (a
    // connection pooler may refuse it as a startup option).
    if (handle.pool) handle.pool.options.onConnect = (client) => client.query("set synchronous_commit to off");
  }
  else throw new Error("startWorker needs a databaseUrl or an open database handle");

  if (handle.pool) guardPoolConnections(handle.pool, log);
  // Every step is idempotent, so a step transaction lost to a database crash is simply run again.
  const db: SqlDatabase = handleDatabase(handle, { isCommitAsync: true });
  // The registry heartbeat, job heartbeats and the sweeps get connections of their own: queued
  // behind busy steps they would fall silent, and peers would take this worker's steps away.
  const controlPool = options.databaseUrl && !options.handle ? new pg.Pool({ connectionString: withApplicationName(options.databaseUrl, `loopstacks-worker ${id}`), max: 2, connectionTimeoutMillis: 10_000 }) : null;
  if (controlPool) {
    controlPool.on("error", () => {});
    guardPoolConnections(controlPool, log);
  }
  const control: SqlDatabase = controlPool ? poolDatabase(controlPool) : db;
  const store: RuntimeStore = withPromptStateReads(withRealmRoleReads(asInfrastructure(createDbStore(handle.db)), db), db);
  const boss = createBoss({ handle }, { supervise: true, ...(options.superviseIntervalSeconds ? { superviseIntervalSeconds: options.superviseIntervalSeconds } : {}) });
  boss.on("error", (error) => log(`queue: ${error.message}`));
  try {
    await boss.start();
    await ensureQueues(boss);
  } catch (error) {
    if (ownsHandle) await handle.close().catch(() => {});
    throw error;
  }

  const active = new Map<string, ActiveStep>();
  const limits = options.limits ?? {};
  const rateLimiter = createModelRateLimiter(limits);
  const deps: StepDeps = {
    db,
    boss,
    store,
    catalog: createLoopCatalog(store),
    model: options.model,
    mcp: options.mcp,
    http: options.http ?? defaultHttpClient,
    clock,
    authorizer: options.authorizer ?? createRealmAuthorizer({ store, clock }),
    isRealmAuthorizer: options.authorizer === undefined,
    secrets: options.secrets ?? { resolve: () => undefined },
    validator: createSchemaValidator(),
    workerId: id,
    limits,
    rateLimiter,
    leaseMs: Math.max(heartbeatMs * 5, 10_000),
    shouldNotifyPeers: () => active.size >= concurrency,
    ...(options.onFrameSucceeded ? { onFrameSucceeded: options.onFrameSucceeded } : {}),
  };

  let processed = 0;
  let failed = 0;
  let fetches = 0;
  let fetchedTotal = 0;
  let running = true;
  let wakeUp: (() => void) | null = null;
  let woken = false;
  const startedAt = clock.now();

  const wake = () => {
    woken = true;
    wakeUp?.();
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken || !running) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = null;
        resolve();
      }
      wakeUp = done;
    });

  const abortRun = (runId: string) => {
    for (const step of active.values()) {
      if (step.data.runId === runId && !step.controller.signal.aborted) step.controller.abort(new DispatchError("cancelled", "The run was cancelled"));
    }
  };

  /** Steps of frames ended from outside (a tool step's frameId is the frame that called the tool). */
  const abortFrames = (frameIds: Iterable<string>) => {
    const ended = new Set(frameIds);
    for (const step of active.values()) {
      if (ended.has(step.data.frameId) && !step.controller.signal.aborted) step.controller.abort(new DispatchError("cancelled", "The frame was ended by an enclosing frame's timeout"));
    }
  };

  const listener: Listener = listen(handle, {
    handlers: { [WORK_CHANNEL]: wake, [RUN_CANCELLED_CHANNEL]: abortRun, [FRAMES_ENDED_CHANNEL]: (payload) => abortFrames(payload.split(",")) },
    onConnect: wake,
    log,
  });

  function execute(job: Job<unknown>): void {
    const parsed = stepJobSchema.safeParse(job.data);
    if (!parsed.success) {
      failed++;
      void boss.fail(STEP_QUEUE, { id: job.id, retryCount: job.retryCount }, { message: `Not a LoopStacks step: ${parsed.error.issues[0]?.message ?? "invalid payload"}` }).catch((e: Error) => log(`step ${job.id}: ${e.message}`));
      return;
    }
    const data = parsed.data;
    const controller = new AbortController();
    const entry: ActiveStep = { job, data, controller, since: clock.now(), work: null, done: Promise.resolve() };
    active.set(job.id, entry);
    entry.done = (async () => {
      try {
        await runStep(deps, {
          job: { id: job.id, retryCount: job.retryCount, data },
          signal: controller.signal,
          describe: (work) => (entry.work = work),
        });
        processed++;
      } catch (error) {
        await settleFailure(entry, error);
      } finally {
        active.delete(job.id);
        wake();
      }
    })();
  }

  /** A connection that just broke fails the first query on it; the pool's next one is fresh. */
  async function persistently<T>(action: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await action();
      } catch (error) {
        if (attempt >= 3 || error instanceof StepSupersededError) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  }

  async function settleFailure(entry: ActiveStep, error: unknown): Promise<void> {
    const { job } = entry;
    if (error instanceof StepSupersededError) return;
    try {
      if (error instanceof WorkerStoppingError || (entry.controller.signal.reason instanceof WorkerStoppingError && !running)) {
        // Handed back as a fresh job: stopping a worker does not spend a step's retries.
        await persistently(() =>
          db.transaction(async (tx) => {
            await enqueueSteps(boss, tx, [{ id: derivedId("step", job.id, "released", String(job.retryCount)), data: entry.data, ...(groupOf(job) ? { group: groupOf(job)! } : {}) }]);
            const result = (await boss.complete(STEP_QUEUE, { id: job.id, retryCount: job.retryCount }, null, { db: bossDb(tx) })) as { affected?: number };
            if (result.affected === 0) throw new StepSupersededError(job.id);
          }),
        );
        return;
      }
      failed++;
      const message = error instanceof Error ? error.message : String(error);
      log(`step ${job.id} (${entry.data.kind} ${entry.data.frameId}) failed, to be retried: ${message}`);
      await persistently(() => boss.fail(STEP_QUEUE, { id: job.id, retryCount: job.retryCount }, { message, worker: id, ...(error instanceof Error && error.name !== "Error" ? { name: error.name } : {}) }));
    } catch (settleError) {
      if (settleError instanceof StepSupersededError) return;
      // The job stays active without heartbeats; pg-boss expires it and another worker retries it.
      log(`step ${job.id}: could not settle (${(settleError as Error).message})`);
    }
  }

  async function pump(): Promise<void> {
    while (running) {
      woken = false;
      const free = concurrency - active.size;
      let fetched = 0;
      if (free > 0) {
        try {
          const jobs = await boss.fetch<unknown>(STEP_QUEUE, { batchSize: free });
          fetched = jobs.length;
          fetches++;
          fetchedTotal += fetched;
          for (const job of jobs) {
            if (running) execute(job);
          }
        } catch (error) {
          log(`fetch: ${(error as Error).message}`);
          await sleep(1_000);
          continue;
        }
      }
      if (fetched > 0 && fetched === free) continue;
      await sleep(pollMs);
    }
  }

  async function handleDeadLetters(): Promise<void> {
    const jobs = await boss.fetch<unknown>(DEAD_LETTER_QUEUE, { batchSize: 10, includeMetadata: true, db: bossDb(control) });
    for (const job of jobs) {
      try {
        await settleDeadLetter(job);
      } catch (error) {
        log(`dead letter ${job.id}: ${(error as Error).message}`);
        await boss.fail(DEAD_LETTER_QUEUE, { id: job.id, retryCount: job.retryCount }, { message: (error as Error).message }, { db: bossDb(control) }).catch(() => {});
      }
    }
  }

  /** Poison work: the run fails, with the reason the step kept failing recorded on its frame and run. */
  async function settleDeadLetter(job: JobWithMetadata<unknown>): Promise<void> {
    // Settled with the run's ending, so the console never shows a handled dead letter as pending.
    const settle = async (tx: SqlExecutor) => {
      await boss.complete(DEAD_LETTER_QUEUE, { id: job.id, retryCount: job.retryCount }, null, { db: bossDb(tx) });
    };
    const parsed = stepJobSchema.safeParse(job.data);
    if (!parsed.success) return settle(control);
    const reason = failureReason(job.sourceOutput);
    const attempts = (job.sourceRetryCount ?? 0) + 1;
    const error = {
      code: "dead_letter",
      message: `A step of this frame failed ${attempts} time${attempts === 1 ? "" : "s"} and was set aside: ${reason}`,
      details: { step: parsed.data.kind, jobId: job.sourceId, attempts, reason },
    };
    await endRunEarly(control, parsed.data.runId, { status: "failed", error, culprit: { frameId: parsed.data.frameId, error } }, clock.now(), settle);
  }

  /**
   * A worker that stopped heartbeating (killed, or cut off from the database) still holds its
   * steps in pg-boss until their own heartbeats lapse; failing them now lets another worker
   * retry them sooner, with the reason on record. Fenced to the attempt, so a worker that was
   * only slow loses nothing but the commit of the attempt it no longer holds.
   */
  async function reapSilentWorkers(now: Date): Promise<void> {
    const { rows } = await control.query<{ id: string; current_work: { jobId: string; retryCount: number }[] }>(
      `update workers set current_work = '[]'::jsonb
        where id <> $1 and heartbeat_at < $2 and current_work <> '[]'::jsonb
        returning id, current_work`,
      [id, new Date(now.getTime() - heartbeatMs * SILENT_AFTER_HEARTBEATS)],
    );
    for (const row of rows) {
      const attempts = row.current_work.filter((w) => typeof w.jobId === "string" && Number.isInteger(w.retryCount)).map((w) => ({ id: w.jobId, retryCount: w.retryCount }));
      if (attempts.length === 0) continue;
      log(`worker ${row.id} stopped sending heartbeats: retrying its ${attempts.length} step(s) elsewhere`);
      await boss.fail(STEP_QUEUE, attempts, { message: `worker ${row.id} stopped sending heartbeats while running this step` }, { db: bossDb(control) });
    }
  }

  let beats = 0;
  async function heartbeat(): Promise<void> {
    beats++;
    const now = clock.now();
    const steps = [...active.values()];
    const currentWork = steps.map((s) => ({
      jobId: s.job.id,
      retryCount: s.job.retryCount,
      kind: s.data.kind,
      runId: s.data.runId,
      frameId: s.data.frameId,
      loopId: s.work?.loopId ?? null,
      since: s.since.toISOString(),
    }));
    await control.query(
      `insert into workers (id, host, pid, version, started_at, heartbeat_at, current_work, processed)
       values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)
       on conflict (id) do update set heartbeat_at = excluded.heartbeat_at, current_work = excluded.current_work, processed = excluded.processed`,
      [id, hostname(), process.pid, options.version ?? "unknown", startedAt, now, JSON.stringify(currentWork), processed],
    );
    if (steps.length > 0) {
      await boss.touch(STEP_QUEUE, steps.map((s) => ({ id: s.job.id, retryCount: s.job.retryCount })), { db: bossDb(control) });
      const frames = steps.filter((s) => s.data.kind === "frame").map((s) => s.data.frameId);
      await renewLeases(control, frames, id, new Date(now.getTime() + deps.leaseMs));
      for (const runId of await listEndedRuns(control, [...new Set(steps.map((s) => s.data.runId))])) abortRun(runId);
      abortFrames(await listEndedFrames(control, [...new Set(steps.map((s) => s.data.frameId))]));
    }
    const live = await control.query<{ live: number }>(`select count(*)::int as live from workers where heartbeat_at > $1`, [new Date(now.getTime() - heartbeatMs * 3)]);
    rateLimiter.setLiveWorkers(live.rows[0]?.live ?? 1);
    // Each sweep on its own: one that fails (a deadlock, a lost connection) leaves the others to run.
    await sweep("silent workers", () => reapSilentWorkers(now));
    await sweep("dead letters", () => handleDeadLetters());
    await sweep("run deadlines", async () => {
      for (const runId of await listOverdueRuns(control, now)) {
        await endRunEarly(control, runId, { status: "failed", error: { code: "run_timeout", message: "The run exceeded its deadline" } }, now);
      }
    });
    // A frame waiting for its children holds no step whose signal would time it out.
    await sweep("frame timeouts", async () => {
      for (const frame of await listTimedOutFrames(control, now)) {
        const error = frameTimeoutError(frame.loopId, frame.timeoutMs).toFrameError();
        abortFrames(await endTimedOutFrame(control, frame.id, error, now, { boss, notify: true }));
      }
    });
    if (beats % 100 === 1) await control.query(`delete from workers where heartbeat_at < $1`, [new Date(now.getTime() - STALE_WORKER_ROWS_AFTER_MS)]);
  }

  async function sweep(name: string, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (error) {
      log(`heartbeat, ${name}: ${(error as Error).message}`);
    }
  }

  // The next heartbeat is timed from the end of the last, so a slow one never piles up behind.
  let heartbeatTimer: NodeJS.Timeout | undefined;
  // Kept up while a stopping worker finishes its steps, or peers would take them away.
  let isHeartbeating = true;
  let beating: Promise<void> = Promise.resolve();
  const beat = () => {
    beating = heartbeat()
      .catch((error: Error) => log(`heartbeat: ${error.message}`))
      .finally(() => {
        if (isHeartbeating) heartbeatTimer = setTimeout(beat, heartbeatMs);
      });
  };
  beat();
  const pumping = pump();

  let stopping: Promise<void> | null = null;
  return {
    id,
    stats: () => ({ id, active: active.size, processed, failed, fetches, fetched: fetchedTotal }),
    stop(stopOptions = {}) {
      stopping ??= (async () => {
        running = false;
        wake();
        await pumping;
        const grace = stopOptions.graceMs ?? options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
        const all = () => Promise.allSettled([...active.values()].map((s) => s.done));
        const timer = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), grace).unref());
        if ((await Promise.race([all().then(() => "done" as const), timer])) === "timeout") {
          for (const step of active.values()) step.controller.abort(new WorkerStoppingError());
          await all();
        }
        isHeartbeating = false;
        clearTimeout(heartbeatTimer);
        await beating;
        clearTimeout(heartbeatTimer);
        await listener.close();
        await control.query(`delete from workers where id = $1`, [id]).catch(() => {});
        await boss.stop({ graceful: false, close: false }).catch(() => {});
        await controlPool?.end();
        if (ownsHandle) await handle.close();
      })();
      return stopping;
    },
  };
}

function groupOf(job: Job<unknown>): { id: string; tier: string } | null {
  return job.groupId ? { id: job.groupId, tier: job.groupTier ?? "" } : null;
}

/** The message a failed step left: its error, or pg-boss's note that its worker went silent. */
function failureReason(output: unknown): string {
  if (output && typeof output === "object") {
    const record = output as { message?: unknown; value?: { message?: unknown } };
    if (typeof record.message === "string") return record.message;
    if (typeof record.value?.message === "string") {
      return record.value.message === "job heartbeat timeout" ? "its worker stopped responding while running it (crashed or lost its database connection)" : record.value.message;
    }
    return JSON.stringify(output).slice(0, 500);
  }
  return "no reason recorded";
}

function withApplicationName(url: string, name: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.searchParams.has("application_name")) parsed.searchParams.set("application_name", name.slice(0, 63));
    return parsed.toString();
  } catch {
    return url;
  }
}
