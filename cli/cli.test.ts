import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cliRunner } from "../test/cli";
import { openDatabase } from "../db/client";

const root = mkdtempSync(join(tmpdir(), "loopstacks-cli-"));
/** Each scenario gets its own data directory: the demo is seeded only into an empty database. */
let dataDir = join(root, "default");
const loopstacks = cliRunner(() => dataDir);

afterAll(() => rmSync(root, { recursive: true, force: true }));

// Each command boots its own embedded database: give the suite room on a loaded machine.
describe("loopstacks CLI", { timeout: 120_000 }, () => {
  it("describes every command", async () => {
    const help = await loopstacks("--help");
    expect(help.code).toBe(0);
    for (const command of ["apply", "audit", "export", "keys", "migrate", "realm", "run", "start", "verify"]) expect(help.stdout).toContain(command);
    const runHelp = await loopstacks("run", "--help");
    expect(runHelp.stdout).toContain("--as <username>");
  });

  it("migrates, then applies a loops file idempotently and reports what changed", async () => {
    dataDir = join(root, "apply");
    expect((await loopstacks("migrate")).stdout).toContain("Migrations applied to pglite");
    const file = join(dataDir, "loops.yaml");
    const loop = (prompt: string) => `loops:\n  - id: cli-echo\n    type: llm\n    realm: demo\n    llm:\n      model: claude-sonnet-4-6\n      systemPrompt: ${prompt}\n`;
    writeFileSync(file, loop("Answer briefly."));
    const first = await loopstacks("apply", "-f", file);
    expect(first.stdout).toMatch(/created\s+cli-echo \(llm, realm demo, revision 1, prompt v1 active\)/);
    const again = await loopstacks("apply", "-f", file);
    expect(again.stdout).toMatch(/unchanged cli-echo/);
    expect(again.stdout).toContain("0 changed, 1 unchanged");
    writeFileSync(file, loop("Answer in one word."));
    expect((await loopstacks("apply", "-f", file)).stdout).toMatch(/updated\s+cli-echo \(llm, realm demo, revision 2, prompt v2 active\)/);
    // Commands that only write definitions start no worker: the queue was never even installed.
    const database = await openDatabase({ dataDir: join(dataDir, "pglite") });
    try {
      const { rows } = await database.pglite!.query<{ queue: string | null }>("select to_regclass('pgboss.job')::text as queue");
      expect(rows).toEqual([{ queue: null }]);
    } finally {
      await database.close();
    }
  });

  it("refuses an invalid loops file with every problem and exit code 2", async () => {
    const file = join(dataDir, "bad.yaml");
    writeFileSync(file, "loops:\n  - id: Bad\n    type: llm\n    realm: demo\n    llm: { tools: [{ name: t, loopRef: nowhere }] }\n");
    const result = await loopstacks("apply", "-f", file);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("[0].id");
    expect(result.stderr).toContain("[0].llm.model");
  });

  it("runs a loop as a directory user and prints the output and the tree", async () => {
    dataDir = join(root, "demo");
    const result = await loopstacks("run", "demo-triage", "--input", '{"request":"chest pain"}', "--as", "alice");
    expect(result.stdout).toMatch(/^run [0-9a-f-]{36} succeeded/m);
    expect(result.stdout).toContain("[scripted model]");
    expect(result.stdout).toMatch(/^demo-triage \[llm r1\] succeeded prompt v1/m);
    expect(result.stdout).toMatch(/├─ demo-case-lookup \[llm r1\] succeeded/);
    expect(result.stdout).toMatch(/demo-echo \[mcp r1\] succeeded/);
    expect(result.stderr).toContain("scripted model");
    // `run` executes on the embedded engine: its worker installed the queue.
    const database = await openDatabase({ dataDir: join(dataDir, "pglite") });
    try {
      const { rows } = await database.pglite!.query<{ queue: string | null }>("select to_regclass('pgboss.job')::text as queue");
      expect(rows).toEqual([{ queue: "pgboss.job" }]);
    } finally {
      await database.close();
    }
  });

  it("exits 4 for a caller without the right role, 2 for malformed input, 3 for an unknown loop", async () => {
    dataDir = join(root, "demo");
    const denied = await loopstacks("run", "demo-case-lookup", "--input", '{"query":"x"}', "--as", "vic");
    expect(denied.code).toBe(4);
    expect(denied.stdout).toContain("denied");
    const malformed = await loopstacks("run", "demo-case-lookup", "--input", "{not json", "--as", "alice");
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain("--input is not valid JSON");
    const invalid = await loopstacks("run", "demo-case-lookup", "--input", '{"query":5}', "--as", "alice");
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain("query: must be string");
    const unknown = await loopstacks("run", "no-such-loop", "--as", "alice");
    expect(unknown.code).toBe(3);
  });

  it("reads export dates strictly: exit 2 naming the flag for a bare year, prose or a day the calendar lacks", async () => {
    dataDir = join(root, "demo");
    const prose = await loopstacks("export", "--realm", "demo", "--from", "2026", "--to", "Dec 31 2026", "--as", "otto", "-o", join(root, "never.tar.gz"));
    expect(prose.code).toBe(2);
    expect(prose.stderr).toContain('--from "2026" is not accepted');
    const rolledOver = await loopstacks("export", "--realm", "demo", "--from", "2026-02-30T00:00:00Z", "--to", "2026-03-31T00:00:00Z", "--as", "otto");
    expect(rolledOver.code).toBe(2);
    expect(rolledOver.stderr).toContain("--from: 2026-02-30 is not a day in the calendar");
    const farOff = await loopstacks("export", "--realm", "demo", "--from", "2026-01-01T00:00:00Z", "--to", "+010000-01-01T00:00:00Z", "--as", "otto");
    expect(farOff.code).toBe(2);
    expect(farOff.stderr).toContain('--to "+010000-01-01T00:00:00Z" is not accepted');
    expect(existsSync(join(root, "never.tar.gz"))).toBe(false);
  });

  it("exports only to a new file: a taken name is refused before anything is exported or audited, and a failed export leaves no file", async () => {
    dataDir = join(root, "demo");
    const range = ["--from", "2020-01-01T00:00:00Z", "--to", "9999-12-31T23:59:59Z"];
    const exportEvents = async () => {
      const database = await openDatabase({ dataDir: join(dataDir, "pglite") });
      try {
        const { rows } = await database.pglite!.query<{ count: number }>("select count(*)::int as count from audit_events where action = 'export.created'");
        return rows[0]!.count;
      } finally {
        await database.close();
      }
    };
    const before = await exportEvents();
    const existing = join(root, "existing.tar.gz");
    writeFileSync(existing, "an earlier bundle");
    const taken = await loopstacks("export", "--realm", "demo", ...range, "--as", "otto", "-o", existing);
    expect(taken.code).toBe(2);
    expect(taken.stderr).toContain(`${existing} already exists`);
    expect(readFileSync(existing, "utf8")).toBe("an earlier bundle");
    expect(await exportEvents()).toBe(before);

    const fresh = join(root, "fresh.tar.gz");
    const unknown = await loopstacks("export", "--realm", "no-such-realm", ...range, "--as", "otto", "-o", fresh);
    expect(unknown.code).toBe(3);
    expect(existsSync(fresh)).toBe(false);

    const exported = await loopstacks("export", "--realm", "demo", ...range, "--as", "otto", "-o", fresh);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain(`${fresh}: `);
    expect(await exportEvents()).toBe(before + 1);
    const verified = await loopstacks("verify", fresh);
    expect(verified.code, verified.stdout).toBe(0);
  });

  it("rotates signing keys and keeps the retired ones listed", async () => {
    dataDir = join(root, "keys");
    const first = await loopstacks("keys", "rotate");
    const second = await loopstacks("keys", "rotate");
    const firstId = /^active\s+([0-9a-f]{64})$/m.exec(first.stdout)?.[1];
    expect(firstId).toBeDefined();
    expect(second.stdout).toContain(`retired ${firstId}`);
    const list = await loopstacks("keys", "list");
    expect(list.stdout.trim().split("\n")).toHaveLength(2);
    expect(list.stdout).toMatch(new RegExp(`${firstId}\\s+created \\S+\\s+retired`));
  });
});
