import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { DATABASE_KINDS, TEST_POSTGRES_URL } from "../../test/database";
import { register } from "./realms";

/** Runs one `loopstacks …` command line in this process and returns what it printed. */
async function loopstacks(...args: string[]): Promise<string> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  register(program);
  const lines: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...parts: unknown[]) => void lines.push(parts.join(" ")));
  try {
    await program.parseAsync(["node", "loopstacks", ...args]);
  } finally {
    log.mockRestore();
  }
  return lines.join("\n");
}

const scratch = mkdtempSync(join(tmpdir(), "cli-realms-"));
let dropDatabase: (() => Promise<void>) | undefined;

beforeAll(async () => {
  // PostgreSQL when the suite has it (each command opens the database again, which is quick there).
  if (DATABASE_KINDS.includes("postgres")) {
    const name = `loopstacks_cli_${randomBytes(6).toString("hex")}`;
    const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(TEST_POSTGRES_URL);
    url.pathname = `/${name}`;
    vi.stubEnv("DATABASE_URL", url.toString());
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

describe("loopstacks realm", () => {
  it("makes the first admin of a fresh install, then lists, and unmaps", async () => {
    expect(await loopstacks("realm", "list")).toMatch(/No realms yet/);
    expect(await loopstacks("realm", "map", "--realm", "payments", "--group", "CN=Pay-Admins, OU=Groups,DC=Example,DC=Org", "--role", "admin")).toBe(
      "mapped cn=pay-admins,ou=groups,dc=example,dc=org → admin in realm payments",
    );
    expect(await loopstacks("realm", "map", "--realm", "payments", "--group", "cn=pay-admins,ou=groups,dc=example,dc=org", "--role", "admin")).toMatch(/^already mapped/);
    await loopstacks("realm", "map", "--realm", "payments", "--group", "cn=pay-ops,ou=groups,dc=example,dc=org", "--role", "operator");
    expect(await loopstacks("realm", "list")).toBe(
      ["payments", "  admin      cn=pay-admins,ou=groups,dc=example,dc=org", "  operator   cn=pay-ops,ou=groups,dc=example,dc=org"].join("\n"),
    );
    expect(await loopstacks("realm", "unmap", "--realm", "payments", "--group", "cn=pay-ops,ou=groups,dc=example,dc=org", "--role", "operator")).toMatch(/^removed/);
    const json = JSON.parse(await loopstacks("realm", "list", "--json", "--realm", "payments")) as { id: string; mappings: { role: string }[] }[];
    expect(json).toMatchObject([{ id: "payments", mappings: [{ role: "admin" }] }]);
  });

  it("refuses a bad role or DN with the field named", async () => {
    await expect(loopstacks("realm", "map", "--realm", "payments", "--group", "admins", "--role", "root")).rejects.toMatchObject({
      code: "invalid_input",
      issues: [{ path: "groupDn" }, { path: "role" }],
    });
    await expect(loopstacks("realm", "unmap", "--realm", "payments", "--group", "cn=nobody", "--role", "viewer")).rejects.toMatchObject({ code: "not_found" });
  });
});
