import type pg from "pg";
import type { Db as BossDb } from "pg-boss";
import type { DatabaseHandle } from "../../db/client";
import { prepared } from "../../db/prepared-statement";
import type { PgliteClient, PgliteTransaction } from "../../db/pglite-thread";
import { storableJson } from "../runtime/storable.mjs";
import { InfrastructureError } from "./errors";

/** One statement at a time, on a pool or inside a transaction. */
export interface SqlExecutor {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

/**
 * The engine's access to PostgreSQL (or PGlite): plain SQL, because each step packs its state
 * change, the jobs it enqueues and the completion of its own job into one transaction.
 */
export interface SqlDatabase extends SqlExecutor {
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
}

export interface PoolDatabaseOptions {
  /**
   * Commit without waiting for the WAL flush. A PostgreSQL crash can then lose the last
   * fraction of a second of committed transactions — each one whole, never half — which for
   * the steps of a run means they are executed again, exactly as after a worker crash.
   */
  isCommitAsync?: boolean;
}

export function poolDatabase(pool: pg.Pool, options: PoolDatabaseOptions = {}): SqlDatabase {
  const begin = options.isCommitAsync ? "begin; set local synchronous_commit to off" : "begin";
  return {
    async query<R>(text: string, params?: unknown[]) {
      try {
        const result = await pool.query(prepared(text, params));
        return { rows: result.rows as R[] };
      } catch (error) {
        throw new InfrastructureError(error);
      }
    },
    async transaction(fn) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw new InfrastructureError(error);
      }
      let broken: Error | undefined;
      const run = async (text: string, params?: unknown[]) => {
        try {
          return await client.query(prepared(text, params));
        } catch (error) {
          throw new InfrastructureError(error);
        }
      };
      try {
        await run(begin);
        const tx: SqlExecutor = {
          async query<R>(text: string, params?: unknown[]) {
            const result = await run(text, params);
            return { rows: result.rows as R[] };
          },
        };
        const value = await fn(tx);
        await run("commit");
        return value;
      } catch (error) {
        try {
          await client.query("rollback");
        } catch (rollbackError) {
          // The connection is gone or unusable: the pool must not hand it out again.
          broken = rollbackError as Error;
        }
        throw error;
      } finally {
        client.release(broken);
      }
    },
  };
}

export function pgliteDatabase(pglite: PgliteClient): SqlDatabase {
  const wrap = (target: PgliteTransaction): SqlExecutor => ({
    async query<R>(text: string, params?: unknown[]) {
      try {
        const result = await target.query<R>(text, params);
        return { rows: result.rows };
      } catch (error) {
        throw new InfrastructureError(error);
      }
    },
  });
  const root = wrap(pglite);
  return {
    query: root.query,
    transaction: (fn) => pglite.transaction((tx) => fn(wrap(tx))),
  };
}

/** PostgreSQL rolled the transaction back to break a deadlock (40P01) or a serialization conflict (40001): run again, it can succeed. */
function isTransactionConflict(error: unknown): boolean {
  const cause: unknown = error instanceof InfrastructureError ? error.cause : error;
  const code = typeof cause === "object" && cause !== null ? (cause as { code?: unknown }).code : undefined;
  return code === "40P01" || code === "40001";
}

/**
 * A transaction that is run again when PostgreSQL rolls it back for a deadlock or a
 * serialization conflict, after a short randomised pause so that the two sides do not meet
 * again in step. `fn` must only write through `tx`: each attempt starts from scratch.
 */
export async function transactionRetryingConflicts<T>(db: SqlDatabase, fn: (tx: SqlExecutor) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(fn);
    } catch (error) {
      if (attempt >= attempts || !isTransactionConflict(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt * (0.5 + Math.random())));
    }
  }
}

/**
 * A pooled connection that breaks while checked out (its backend terminated, the network gone)
 * emits `error` with no listener left to hear it, which would end the process. Every connection
 * the pool opens from now on gets one; the failed query itself still reports the failure.
 */
export function guardPoolConnections(pool: pg.Pool, log: (message: string) => void = () => {}): void {
  const guarded = pool as pg.Pool & { loopstacksGuarded?: boolean };
  if (guarded.loopstacksGuarded) return;
  guarded.loopstacksGuarded = true;
  pool.on("connect", (client) => client.on("error", (error) => log(`database connection lost: ${error.message}`)));
}

export function handleDatabase(handle: DatabaseHandle, options: PoolDatabaseOptions = {}): SqlDatabase {
  if (handle.pool) return poolDatabase(handle.pool, options);
  if (handle.pglite) return pgliteDatabase(handle.pglite);
  throw new Error(`The ${handle.kind} database handle exposes neither a pool nor a PGlite instance`);
}

/** Lets pg-boss write its jobs inside one of our transactions, so they commit or roll back together. */
export function bossDb(tx: SqlExecutor): BossDb {
  return { executeSql: (text, values) => tx.query(text, values) };
}

/**
 * jsonb parameters: SQL NULL for null and undefined, as the ORM stores them; a NUL character or
 * a lone surrogate (which jsonb cannot hold) as U+FFFD, as the in-process runtime stores them.
 */
export function json(value: unknown): string | null {
  return value === null || value === undefined ? null : storableJson(value);
}
