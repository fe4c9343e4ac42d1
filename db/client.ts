import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import pg from "pg";
import { startPgliteThread, type PgliteClient } from "./pglite-thread";
import * as schema from "./schema";
import { ANNOUNCING_TRIGGERS, ANNOUNCING_TRIGGERS_SQL, attachChangeFeed, CHANGES_CHANNEL, detachChangeFeed } from "./change-feed";
import { attachTraceThread, detachTraceThread } from "./trace-thread";

export type Schema = typeof schema;
/** Either driver: every query function takes this and runs unchanged on PostgreSQL and PGlite. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type DatabaseKind = "postgres" | "pglite";

export interface DatabaseHandle {
  db: Db;
  kind: DatabaseKind;
  /** Where the data lives, without credentials. */
  location: string;
  /** Applies pending migrations; safe to call on every start. */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** The underlying PGlite (embedded mode only, in its own thread), for adapters that share it. */
  pglite?: PgliteClient;
  /** The underlying pool (PostgreSQL only). */
  pool?: pg.Pool;
}

export interface OpenDatabaseOptions {
  /** A PostgreSQL connection string. When absent, PGlite is used. */
  url?: string;
  /** PGlite data directory; `memory://` (or undefined with no url) keeps it in memory. */
  dataDir?: string;
  poolSize?: number;
}

export const migrationsFolder = resolve(dirname(fileURLToPath(import.meta.url)), "migrations");

export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (options.url) {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: 10_000,
    });
    // A dropped connection must not crash the process; the pool replaces it on next use.
    pool.on("error", () => {});
    const db = drizzlePg(pool, { schema }) as unknown as Db;
    return {
      db,
      kind: "postgres",
      location: redactUrl(options.url),
      pool,
      migrate: () => migratePg(db as never, { migrationsFolder }),
      close: () => pool.end(),
    };
  }
  const dataDir = options.dataDir && options.dataDir !== "memory://" ? resolve(options.dataDir) : undefined;
  if (dataDir) mkdirSync(dirname(dataDir), { recursive: true });
  const releaseLock = dataDir ? acquireDirectoryLock(`${dataDir}.lock`) : () => {};
  let client: PgliteClient;
  try {
    client = await startPgliteThread(dataDir);
  } catch (error) {
    releaseLock();
    throw error;
  }
  // The ORM's PGlite driver makes only the calls the thread answers (see PgliteClient).
  const db = drizzlePglite(client as never, { schema }) as unknown as Db;
  // Trace batches are built and written on the database's own thread.
  attachTraceThread(db, { write: (batch) => client.writeTraceBatch(batch) });
  // This process is the database's only one: what it keeps in memory is dropped on each change
  // the database announces, once it is migrated to announce them.
  const attachFeed = () =>
    attachChangeFeed(db, {
      isAnnouncing: async () => (await client.query<{ n: number }>(ANNOUNCING_TRIGGERS_SQL, [ANNOUNCING_TRIGGERS])).rows[0]?.n === ANNOUNCING_TRIGGERS.length,
      listen: (onPayload) => client.listen(CHANGES_CHANNEL, onPayload),
    }).catch((error: unknown) => {
      console.error("Listening for changes failed; every read goes to the database:", error);
    });
  await attachFeed();
  return {
    db,
    kind: "pglite",
    location: dataDir ?? "memory://",
    pglite: client,
    async migrate() {
      await migratePglite(db as never, { migrationsFolder });
      await attachFeed();
    },
    async close() {
      detachTraceThread(db);
      detachChangeFeed(db);
      try {
        await client.close();
      } finally {
        releaseLock();
      }
    },
  };
}

/**
 * PGlite has no lock of its own: two processes on one data directory silently lose writes.
 * A lock file holding the owner's pid refuses the second process; a stale lock (its process
 * is gone) is taken over.
 */
function acquireDirectoryLock(lockPath: string): () => void {
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(lockPath, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off("exit", release);
        rmSync(lockPath, { force: true });
      };
      process.on("exit", release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number.parseInt(readFileSync(lockPath, "utf8").trim(), 10);
      if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
        throw new Error(
          `The data directory ${lockPath.replace(/\.lock$/, "")} is in use by process ${owner}. ` +
            "Embedded mode allows one process per data directory: stop that process, use another LOOPSTACKS_DATA_DIR, " +
            "or run on PostgreSQL (DATABASE_URL) to share one database between processes.",
        );
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`Could not lock ${lockPath}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "postgres://(unparseable url)";
  }
}
