import { sql, type SQL } from "drizzle-orm";
import type { Db } from "../client";
import type { RealmScope } from "./scope";

/**
 * What the console shows of cluster mode: workers, the queue, dead letters and the progress of
 * runs. The queue lives in pg-boss's own `pgboss` schema, which exists only once a worker or a
 * cluster executor has started on this database; before that, every queue figure is empty.
 */

const STEP_QUEUE = "loopstacks.steps";
const DEAD_LETTER_QUEUE = "loopstacks.steps.dead";
/** A worker that missed this many 2-second heartbeats is shown as lost. */
const DEFAULT_STALE_AFTER_MS = 10_000;

async function rows<T>(db: Db, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

async function hasQueue(db: Db): Promise<boolean> {
  const [row] = await rows<{ installed: boolean }>(db, sql`select to_regclass('pgboss.job') is not null as installed`);
  return row?.installed === true;
}

function scopeFilter(column: SQL, scope: RealmScope): SQL {
  if (scope === "all") return sql`true`;
  if (scope.length === 0) return sql`false`;
  return sql`${column} in (${sql.join(
    scope.map((realm) => sql`${realm}`),
    sql`, `,
  )})`;
}

export interface WorkerStep {
  jobId: string;
  kind: "frame" | "tool";
  runId: string;
  frameId: string;
  loopId: string | null;
  since: string;
}

export interface WorkerSummary {
  id: string;
  host: string;
  pid: number;
  version: string;
  startedAt: Date;
  heartbeatAt: Date;
  /** Heard from within `staleAfterMs`. */
  isLive: boolean;
  /** The steps it is executing, limited to runs in the caller's realms. */
  currentWork: WorkerStep[];
  /** Steps it has finished since it started. */
  processed: number;
}

export interface ListWorkersParams {
  scope: RealmScope;
  staleAfterMs?: number;
  now?: Date;
}

/** Every registered worker, live ones first, with what it is doing right now. */
export async function listWorkers(db: Db, params: ListWorkersParams): Promise<WorkerSummary[]> {
  const now = params.now ?? new Date();
  const liveSince = new Date(now.getTime() - (params.staleAfterMs ?? DEFAULT_STALE_AFTER_MS));
  const workers = await rows<{ id: string; host: string; pid: number; version: string; started_at: string; heartbeat_at: string; current_work: WorkerStep[]; processed: string }>(
    db,
    sql`select id, host, pid, version, started_at, heartbeat_at, current_work, processed from workers
         order by (heartbeat_at >= ${liveSince.toISOString()}::timestamptz) desc, id`,
  );
  const runIds = [...new Set(workers.flatMap((w) => w.current_work.map((s) => s.runId)))];
  let visible: Set<string> | null = null;
  if (params.scope !== "all" && runIds.length > 0) {
    const allowed = await rows<{ id: string }>(
      db,
      sql`select id from runs where id in (${sql.join(
        runIds.map((id) => sql`${id}::uuid`),
        sql`, `,
      )}) and ${scopeFilter(sql`realm_id`, params.scope)}`,
    );
    visible = new Set(allowed.map((r) => r.id));
  } else if (params.scope !== "all") {
    visible = new Set();
  }
  return workers.map((w) => {
    const heartbeatAt = new Date(w.heartbeat_at);
    return {
      id: w.id,
      host: w.host,
      pid: w.pid,
      version: w.version,
      startedAt: new Date(w.started_at),
      heartbeatAt,
      isLive: heartbeatAt >= liveSince,
      currentWork: visible ? w.current_work.filter((s) => visible.has(s.runId)) : w.current_work,
      processed: Number(w.processed),
    };
  });
}

export interface QueueDepth {
  queue: string;
  /** Waiting and runnable now. */
  ready: number;
  /** Waiting for a later start: put back by a concurrency or rate limit, or a retry's backoff. */
  deferred: number;
  /** Being executed by a worker. */
  active: number;
  /** Failed for good (and still retained). */
  failed: number;
  /** How long the oldest runnable step has waited, in seconds; null when none waits. */
  oldestReadySeconds: number | null;
}

/** Steps per queue and state, read from the queue itself (not a cached statistic). */
export async function getQueueDepths(db: Db): Promise<QueueDepth[]> {
  if (!(await hasQueue(db))) return [];
  const found = await rows<{ queue: string; ready: number; deferred: number; active: number; failed: number; oldest_ready_seconds: number | null }>(
    db,
    sql`select name as queue,
               count(*) filter (where state in ('created', 'retry') and start_after <= now() and not blocked)::int as ready,
               count(*) filter (where state in ('created', 'retry') and start_after > now())::int as deferred,
               count(*) filter (where state = 'active')::int as active,
               count(*) filter (where state = 'failed')::int as failed,
               extract(epoch from now() - min(created_on) filter (where state in ('created', 'retry') and start_after <= now() and not blocked))::float8 as oldest_ready_seconds
          from pgboss.job where name in (${STEP_QUEUE}, ${DEAD_LETTER_QUEUE}) and state in ('created', 'retry', 'active', 'failed')
         group by name`,
  );
  return [STEP_QUEUE, DEAD_LETTER_QUEUE].map((queue) => {
    const row = found.find((r) => r.queue === queue);
    return {
      queue,
      ready: row?.ready ?? 0,
      deferred: row?.deferred ?? 0,
      active: row?.active ?? 0,
      failed: row?.failed ?? 0,
      oldestReadySeconds: row?.oldest_ready_seconds ?? null,
    };
  });
}

export interface DeadLetter {
  /** The job in the dead-letter queue. */
  id: string;
  /** The step that failed, as it was queued. */
  sourceJobId: string | null;
  deadAt: Date;
  /** `created` until a worker has failed the run for it, then `completed`. */
  state: string;
  step: "frame" | "tool" | "unknown";
  runId: string | null;
  frameId: string | null;
  loopId: string | null;
  realmId: string | null;
  attempts: number;
  /** The last error of the step, or why its worker was given up on. */
  reason: string;
}

export interface ListDeadLettersParams {
  scope: RealmScope;
  limit?: number;
}

/** Steps set aside as poison, newest first, with why; only those of frames in the caller's realms. */
export async function listDeadLetters(db: Db, params: ListDeadLettersParams): Promise<DeadLetter[]> {
  if (!(await hasQueue(db))) return [];
  const limit = Math.min(Math.max(params.limit ?? 50, 1), 500);
  const found = await rows<{
    id: string;
    source_id: string | null;
    created_on: string;
    state: string;
    data: { kind?: string; runId?: string; frameId?: string } | null;
    source_retry_count: number | null;
    source_output: unknown;
    loop_id: string | null;
    realm_id: string | null;
  }>(
    db,
    sql`select j.id, j.source_id, j.created_on, j.state, j.data, j.source_retry_count, j.source_output, f.loop_id, f.realm_id
          from pgboss.job j
          left join frames f on f.id = case when j.data->>'frameId' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                             then (j.data->>'frameId')::uuid end
         where j.name = ${DEAD_LETTER_QUEUE} and ${scopeFilter(sql`f.realm_id`, params.scope)}
         order by j.created_on desc
         limit ${limit}`,
  );
  return found.map((r) => ({
    id: r.id,
    sourceJobId: r.source_id,
    deadAt: new Date(r.created_on),
    state: r.state,
    step: r.data?.kind === "frame" || r.data?.kind === "tool" ? r.data.kind : "unknown",
    runId: r.data?.runId ?? null,
    frameId: r.data?.frameId ?? null,
    loopId: r.loop_id,
    realmId: r.realm_id,
    attempts: (r.source_retry_count ?? 0) + 1,
    reason: failureReason(r.source_output),
  }));
}

function failureReason(output: unknown): string {
  if (output && typeof output === "object") {
    const record = output as { message?: unknown; value?: { message?: unknown } };
    if (typeof record.message === "string") return record.message;
    if (typeof record.value?.message === "string") return record.value.message;
    return JSON.stringify(output).slice(0, 500);
  }
  return "no reason recorded";
}

export interface RunProgress {
  runId: string;
  status: string;
  frames: { total: number; queued: number; running: number; succeeded: number; failed: number; denied: number; cancelled: number };
  /** Workers holding a lease on one of its frames right now. */
  workers: string[];
  createdAt: Date;
  endedAt: Date | null;
  deadlineAt: Date | null;
}

export interface GetRunProgressParams {
  runIds: readonly string[];
  scope: RealmScope;
  now?: Date;
}

/** Frame counts by status for each run (in the caller's realms), for live progress bars. */
export async function getRunProgress(db: Db, params: GetRunProgressParams): Promise<RunProgress[]> {
  if (params.runIds.length === 0) return [];
  const now = params.now ?? new Date();
  const found = await rows<{
    id: string;
    status: string;
    created_at: string;
    ended_at: string | null;
    deadline_at: string | null;
    total: number;
    queued: number;
    running: number;
    succeeded: number;
    failed: number;
    denied: number;
    cancelled: number;
    workers: string[] | null;
  }>(
    db,
    sql`select r.id, r.status, r.created_at, r.ended_at, r.deadline_at,
               count(f.id)::int as total,
               count(f.id) filter (where f.status = 'queued')::int as queued,
               count(f.id) filter (where f.status = 'running')::int as running,
               count(f.id) filter (where f.status = 'succeeded')::int as succeeded,
               count(f.id) filter (where f.status = 'failed')::int as failed,
               count(f.id) filter (where f.status = 'denied')::int as denied,
               count(f.id) filter (where f.status = 'cancelled')::int as cancelled,
               array_remove(array_agg(distinct f.lease_owner) filter (where f.lease_expires_at > ${now.toISOString()}::timestamptz), null) as workers
          from runs r left join frames f on f.run_id = r.id
         where r.id in (${sql.join(
           params.runIds.map((id) => sql`${id}::uuid`),
           sql`, `,
         )}) and ${scopeFilter(sql`r.realm_id`, params.scope)}
         group by r.id`,
  );
  return found.map((r) => ({
    runId: r.id,
    status: r.status,
    frames: { total: r.total, queued: r.queued, running: r.running, succeeded: r.succeeded, failed: r.failed, denied: r.denied, cancelled: r.cancelled },
    workers: r.workers ?? [],
    createdAt: new Date(r.created_at),
    endedAt: r.ended_at === null ? null : new Date(r.ended_at),
    deadlineAt: r.deadline_at === null ? null : new Date(r.deadline_at),
  }));
}

export interface QueueHealth {
  /**
   * `ok`, or `degraded` when work waits — steps ready, deferred or active, or runs in progress —
   * but no live worker would take it, or dead letters await handling.
   */
  status: "ok" | "degraded";
  /** False until a worker or cluster executor has created the queue on this database (embedded mode). */
  isInstalled: boolean;
  workers: { live: number; lost: number };
  steps: { ready: number; deferred: number; active: number; oldestReadySeconds: number | null };
  /** Runs queued or running (0 when runs are not counted). */
  runs: { inProgress: number };
  /** Dead letters not yet handled by a worker (their runs not yet failed). */
  deadLettersPending: number;
}

export interface QueueHealthParams {
  staleAfterMs?: number;
  now?: Date;
  /** Whether the runs in progress are the workers' to carry on: false when this process executes runs itself (`direct`). */
  countsRunsInProgress?: boolean;
}

/** For `GET /api/health`: counts only, nothing about any realm's runs. */
export async function getQueueHealth(db: Db, params: QueueHealthParams = {}): Promise<QueueHealth> {
  const now = params.now ?? new Date();
  const liveSince = new Date(now.getTime() - (params.staleAfterMs ?? DEFAULT_STALE_AFTER_MS));
  const [workers] = await rows<{ live: number; lost: number }>(
    db,
    sql`select count(*) filter (where heartbeat_at >= ${liveSince.toISOString()}::timestamptz)::int as live,
               count(*) filter (where heartbeat_at < ${liveSince.toISOString()}::timestamptz)::int as lost
          from workers`,
  );
  const live = workers?.live ?? 0;
  const lost = workers?.lost ?? 0;
  if (!(await hasQueue(db))) {
    return { status: "ok", isInstalled: false, workers: { live, lost }, steps: { ready: 0, deferred: 0, active: 0, oldestReadySeconds: null }, runs: { inProgress: 0 }, deadLettersPending: 0 };
  }
  const depths = await getQueueDepths(db);
  const steps = depths.find((d) => d.queue === STEP_QUEUE)!;
  const dead = depths.find((d) => d.queue === DEAD_LETTER_QUEUE)!;
  const deadLettersPending = dead.ready + dead.deferred + dead.active;
  let inProgress = 0;
  if (params.countsRunsInProgress ?? true) {
    const [runs] = await rows<{ n: number }>(db, sql`select count(*)::int as n from runs where status in ('queued', 'running')`);
    inProgress = runs?.n ?? 0;
  }
  // Active steps of lost workers, and runs whose steps are gone, wait as surely as ready ones.
  const isWorkWaiting = steps.ready + steps.deferred + steps.active + inProgress > 0;
  const isStarved = isWorkWaiting && live === 0;
  return {
    status: isStarved || deadLettersPending > 0 ? "degraded" : "ok",
    isInstalled: true,
    workers: { live, lost },
    steps: { ready: steps.ready, deferred: steps.deferred, active: steps.active, oldestReadySeconds: steps.oldestReadySeconds },
    runs: { inProgress },
    deadLettersPending,
  };
}
