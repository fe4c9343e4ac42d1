import pg from "pg";
import { DATABASE_KINDS, TEST_POSTGRES_URL } from "./database";

/** Fails fast, with the fix, when the PostgreSQL the integration tests need is not there. */
export default async function setup(): Promise<void> {
  if (!DATABASE_KINDS.includes("postgres")) return;
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query("select 1");
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${TEST_POSTGRES_URL} (${error instanceof Error ? error.message : String(error)}). ` +
        "Start it, point LOOPSTACKS_TEST_POSTGRES_URL at a server, or set LOOPSTACKS_TEST_SKIP_POSTGRES=1 to run the PGlite half only.",
    );
  } finally {
    await client.end().catch(() => {});
  }
}
