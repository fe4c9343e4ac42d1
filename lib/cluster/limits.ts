import type { SqlExecutor } from "./sql";
import { STEP_QUEUE } from "./queue";

/** Limits every worker of a cluster enforces; give each worker the same ones. */
export interface ClusterLimits {
  /** Most steps of one loop executing at once across the cluster, by loop id. */
  loops?: Record<string, number>;
  /** Most steps of one realm's loops executing at once across the cluster, by realm. */
  realms?: Record<string, number>;
  /** Model requests per minute across the cluster, by model name. */
  modelRequestsPerMinute?: Record<string, number>;
}

/**
 * Whether a claimed step may run now under the loop and realm limits. pg-boss records each step's
 * loop and realm in its group columns; of the steps of a loop (or realm) claimed right now, the
 * first `limit` by claim time run and the others are put back. Every worker sees the same order,
 * so exactly `limit` proceed however many were claimed at once.
 */
export async function isWithinConcurrency(db: SqlExecutor, limits: ClusterLimits, step: { jobId: string; loopId: string; realmId: string }): Promise<boolean> {
  const loopLimit = limits.loops?.[step.loopId];
  const realmLimit = limits.realms?.[step.realmId];
  const checks: [string, string, number][] = [];
  if (loopLimit !== undefined) checks.push(["group_id", step.loopId, loopLimit]);
  if (realmLimit !== undefined) checks.push(["group_tier", step.realmId, realmLimit]);
  for (const [column, value, limit] of checks) {
    const { rows } = await db.query<{ id: string }>(
      `select id from pgboss.job where name = $1 and state = 'active' and ${column} = $2 order by started_on, id limit $3`,
      [STEP_QUEUE, value, limit],
    );
    if (!rows.some((r) => r.id === step.jobId)) return false;
  }
  return true;
}

/**
 * A per-model token bucket. Each live worker holds an equal share of the cluster's rate, so
 * the cluster as a whole stays within it without a round trip per request. A worker's buckets
 * start empty and fill from its start, so workers starting together send no burst beyond the
 * rate before their first heartbeat tells them how many they are.
 */
export interface ModelRateLimiter {
  /**
   * Milliseconds until a request may go (0: now). A wait of at most `maxWaitMs` reserves that
   * request's slot — the bucket goes into debt, so each caller waiting at once gets a slot of its
   * own — and the caller must send then; a longer wait reserves nothing.
   */
  take(model: string, maxWaitMs?: number): number;
  setLiveWorkers(count: number): void;
}

export function createModelRateLimiter(limits: ClusterLimits, now: () => number = Date.now): ModelRateLimiter {
  const perMinute = limits.modelRequestsPerMinute ?? {};
  const startedAt = now();
  let workers = 1;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(model, maxWaitMs = Number.POSITIVE_INFINITY) {
      const clusterRate = perMinute[model];
      if (clusterRate === undefined) return 0;
      const share = Math.max(clusterRate / workers, 1 / 60);
      const capacity = Math.max(1, Math.floor(share));
      const perMs = share / 60_000;
      const t = now();
      const bucket = buckets.get(model) ?? { tokens: 0, at: startedAt };
      bucket.tokens = Math.min(capacity, bucket.tokens + Math.max(0, t - bucket.at) * perMs);
      bucket.at = Math.max(t, bucket.at);
      buckets.set(model, bucket);
      // Less a hair, so that floating-point residue does not round a whole slot up by a millisecond.
      const wait = bucket.tokens >= 1 ? 0 : Math.ceil((1 - bucket.tokens) / perMs - 1e-6);
      if (wait <= maxWaitMs) bucket.tokens -= 1;
      return wait;
    },
    setLiveWorkers(count) {
      workers = Math.max(1, count);
    },
  };
}
