import { randomBytes } from "node:crypto";
import pg from "pg";
import { openDatabase, type DatabaseHandle, type DatabaseKind } from "../db/client";

/** The server the PostgreSQL tests create their throw-away databases on. */
export const TEST_POSTGRES_URL = process.env.LOOPSTACKS_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export const DATABASE_KINDS: DatabaseKind[] = process.env.LOOPSTACKS_TEST_SKIP_POSTGRES === "1" ? ["pglite"] : ["pglite", "postgres"];

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/**
 * A fresh, migrated database: PGlite in memory, or a new PostgreSQL database dropped on close.
 * Every test file gets its own, so tests never share state or depend on order.
 */
export async function openTestDatabase(kind: DatabaseKind): Promise<DatabaseHandle> {
  if (kind === "pglite") {
    const handle = await openDatabase({ dataDir: "memory://" });
    await handle.migrate();
    return handle;
  }
  const name = `loopstacks_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const handle = await openDatabase({ url: withDatabase(TEST_POSTGRES_URL, name), poolSize: 8 });
  await handle.migrate();
  return {
    ...handle,
    async close() {
      await handle.close();
      const cleanup = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await cleanup.connect();
      try {
        await cleanup.query(`drop database if exists ${name} with (force)`);
      } finally {
        await cleanup.end();
      }
    },
  };
}
