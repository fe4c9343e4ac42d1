import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { eq, sql } from "drizzle-orm";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { openDatabase } from "../../db/client";
import { appendAuditEvent, computeAuditHash, toAuditEvent } from "../../db/queries/audit";
import { auditEvents } from "../../db/schema";
import { DATABASE_KINDS, TEST_POSTGRES_URL } from "../../test/database";
import { register } from "./audit";

async function loopstacks(...args: string[]): Promise<{ output: string; exitCode: number }> {
  const program = new Command().exitOverride();
  register(program);
  const lines: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...parts: unknown[]) => void lines.push(parts.join(" ")));
  process.exitCode = 0;
  try {
    await program.parseAsync(["node", "loopstacks", ...args]);
  } finally {
    log.mockRestore();
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { output: lines.join("\n"), exitCode };
}

const scratch = mkdtempSync(join(tmpdir(), "cli-audit-"));
let url: string | undefined;
let dropDatabase: (() => Promise<void>) | undefined;

/** The same database the command opens, for the test to write events and tamper with them. */
async function withDb<T>(work: (db: Awaited<ReturnType<typeof openDatabase>>["db"]) => Promise<T>): Promise<T> {
  const handle = await openDatabase(url ? { url } : { dataDir: join(scratch, "data", "pglite") });
  try {
    await handle.migrate();
    return await work(handle.db);
  } finally {
    await handle.close();
  }
}

beforeAll(async () => {
  if (DATABASE_KINDS.includes("postgres")) {
    const name = `loopstacks_cli_${randomBytes(6).toString("hex")}`;
    const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const parsed = new URL(TEST_POSTGRES_URL);
    parsed.pathname = `/${name}`;
    url = parsed.toString();
    vi.stubEnv("DATABASE_URL", url);
    dropDatabase = async () => {
      const cleanup = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    };
  }
  vi.stubEnv("LOOPSTACKS_DATA_DIR", join(scratch, "data"));
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await dropDatabase?.();
  rmSync(scratch, { recursive: true, force: true });
});

afterEach(() => {
  process.exitCode = 0;
});

describe("loopstacks audit verify", () => {
  it("reports OK, the count and the head of an intact chain", async () => {
    expect(await loopstacks("audit", "verify")).toEqual({ output: `OK: 0 event(s), chain head ${"0".repeat(64)}`, exitCode: 0 });
    const head = await withDb(async (db) => {
      for (let i = 0; i < 5; i++) await appendAuditEvent(db, { action: "login.succeeded", actor: { subject: `user-${i}` }, data: { i } });
      return (await appendAuditEvent(db, { action: "mapping.added", actor: { subject: "cli:root" }, realmId: "alpha" })).hash;
    });
    expect(await loopstacks("audit", "verify")).toEqual({ output: `OK: 6 event(s), chain head ${head}`, exitCode: 0 });
  });

  it("names the first event whose contents were changed, and exits 1", async () => {
    await withDb((db) => db.update(auditEvents).set({ data: { i: 99 } }).where(eq(auditEvents.seq, 3)));
    const result = await loopstacks("audit", "verify");
    expect(result.exitCode).toBe(1);
    expect(result.output).toMatch(/^BROKEN at event 3: hash does not match the event's contents \(2 event\(s\) before it verified/);
    const json = JSON.parse((await loopstacks("audit", "verify", "--json")).output) as { ok: boolean; firstBroken: { seq: number } };
    expect(json).toMatchObject({ ok: false, count: 2, firstBroken: { seq: 3 } });
  });

  it("names a removed event, and a recomputed hash that no longer links", async () => {
    await withDb(async (db) => {
      // Restore event 3 by recomputing its hash over the changed contents: its own hash holds, the next link breaks.
      const [row] = await db.select().from(auditEvents).where(eq(auditEvents.seq, 3));
      await db.update(auditEvents).set({ hash: computeAuditHash(toAuditEvent(row!)) }).where(eq(auditEvents.seq, 3));
    });
    expect((await loopstacks("audit", "verify")).output).toMatch(/^BROKEN at event 4: prev_hash does not match the hash of event 3/);
    await withDb((db) => db.execute(sql`delete from audit_events where seq >= 3 and seq <= 4`));
    const removed = await loopstacks("audit", "verify");
    expect(removed).toMatchObject({ exitCode: 1 });
    expect(removed.output).toMatch(/^BROKEN at event 3: event 3 is missing \(next is 5\)/);
  });
});
