import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DatabaseHandle } from "../../db/client";
import { verifyAuditChain } from "../../db/queries/audit";
import { getIdentity } from "../../db/queries/identities";
import { auditEvents, loginThrottle } from "../../db/schema";
import { DATABASE_KINDS, openTestDatabase } from "../../test/database";
import { SEEDED, slapdSettings, startSlapd, type Slapd } from "../../test/slapd";
import { createDevDirectory, ensureDevDirectoryFile } from "../auth/dev-directory";
import type { AuthenticationResult, Directory } from "../auth/directory";
import { loadLdapConfig } from "../auth/ldap/config";
import { createLdapDirectory } from "../auth/ldap/directory";
import { authenticate, LOGIN_REFUSED_MESSAGE } from "./authenticate";

/** Counts how often the directory is actually asked. */
function counting(directory: Directory): Directory & { calls: number } {
  const wrapped = {
    kind: directory.kind,
    calls: 0,
    async authenticate(username: string, password: string) {
      wrapped.calls++;
      return directory.authenticate(username, password);
    },
    lookup: (username: string) => directory.lookup(username),
  };
  return wrapped;
}

class Clock {
  at = new Date("2026-03-02T09:00:00Z");
  now = () => this.at;
  advance(seconds: number) {
    this.at = new Date(this.at.getTime() + seconds * 1000);
  }
}

const scratch = mkdtempSync(join(tmpdir(), "authenticate-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe.each(DATABASE_KINDS)("authenticate on %s", (kind) => {
  let database: DatabaseHandle;
  let directory: ReturnType<typeof counting>;
  let clock: Clock;
  const login = (username: unknown, password: unknown, clientAddress: string | null = "10.0.0.1") =>
    authenticate({ db: database.db, directory, now: clock.now }, { username, password, clientAddress });
  const lastAudit = async () => (await database.db.select().from(auditEvents).orderBy(asc(auditEvents.seq))).at(-1)!;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    const path = join(scratch, `${kind}-dev-directory.json`);
    ensureDevDirectoryFile(path);
    directory = counting(createDevDirectory(path));
  });
  afterAll(async () => {
    await database?.close();
  });
  beforeEach(async () => {
    clock = new Clock();
    directory.calls = 0;
    await database.db.delete(loginThrottle);
  });

  it("signs a demo user in, records the identity and audits the login", async () => {
    const result = await login("ada", "ada");
    expect(result).toMatchObject({ ok: true, identity: { subject: "ada", kind: "user", source: "dev-directory", groups: ["cn=loopstacks-admins,ou=groups,dc=loopstacks,dc=dev"] } });
    expect(await getIdentity(database.db, "ada")).toMatchObject({ groups: ["cn=loopstacks-admins,ou=groups,dc=loopstacks,dc=dev"], groupsCheckedAt: clock.at, lastLoginAt: clock.at });
    expect(await lastAudit()).toMatchObject({ action: "login.succeeded", outcome: "ok", actor: { subject: "ada", source: "dev-directory" }, data: { clientAddress: "10.0.0.1" } });
  });

  it("gives unknown users and wrong passwords the same answer and audits both", async () => {
    const wrong = await login("ada", "not-ada");
    expect(await lastAudit()).toMatchObject({ action: "login.failed", outcome: "failed", actor: { subject: "ada" }, data: { reason: "invalid_credentials" } });
    const unknown = await login("nobody-here", "whatever");
    expect(await lastAudit()).toMatchObject({ action: "login.failed", actor: { subject: "nobody-here" }, data: { reason: "invalid_credentials" } });
    expect(wrong).toEqual({ ok: false, error: "invalid_credentials", message: LOGIN_REFUSED_MESSAGE });
    expect(unknown).toEqual(wrong);
  });

  it("refuses an empty password or malformed input without asking the directory", async () => {
    expect(await login("ada", "")).toMatchObject({ ok: false, error: "invalid_credentials" });
    expect(await lastAudit()).toMatchObject({ action: "login.failed", data: { reason: "empty_password" } });
    expect(await login("ada\u0000", "ada")).toMatchObject({ ok: false, error: "invalid_credentials" });
    expect(await lastAudit()).toMatchObject({ actor: { subject: "ada\\u0000" }, data: { reason: "malformed_input" } });
    for (const padded of ["ada\n", "\tada", "ada\r\n", "ada\u0085", "ada\u2028"]) {
      expect(await login(padded, "ada")).toMatchObject({ ok: false, error: "invalid_credentials" });
      expect(await lastAudit()).toMatchObject({ data: { reason: "malformed_input" } });
    }
    // Bidi marks, embeddings, overrides and isolates, and other format characters: shown in the
    // audit log they would reorder the text around them.
    // (From addresses of their own: one address's 20 failures would block it.)
    for (const [i, bidi] of ["\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u061c", "\ufeff", "\u200b", "\u00ad", "\u{e0001}"].entries()) {
      expect(await login(`ada${bidi}`, "ada", `10.2.0.${i}`)).toMatchObject({ ok: false, error: "invalid_credentials" });
      expect(await lastAudit()).toMatchObject({ data: { reason: "malformed_input" } });
    }
    // Audited as escapes, not as characters that would act on the log.
    expect(await login("x\u202elmth.exe", "guess", "10.3.0.1")).toMatchObject({ ok: false, error: "invalid_credentials" });
    expect(await lastAudit()).toMatchObject({ action: "login.failed", actor: { subject: "x\\u202elmth.exe" }, data: { reason: "malformed_input" } });
    expect(await login("\u2066x\u{e0041}\u0085", "guess", "10.3.0.2")).toMatchObject({ ok: false });
    expect(await lastAudit()).toMatchObject({ actor: { subject: "\\u2066x\\u{e0041}\\u0085" } });
    expect(await login({ $ne: "" }, "ada")).toMatchObject({ ok: false, error: "invalid_credentials" });
    expect(await lastAudit()).toMatchObject({ data: { reason: "malformed_input" } });
    expect(directory.calls).toBe(0);
  });

  it("blocks a username after repeated failures, from any address, before the directory is asked", async () => {
    for (let i = 0; i < 5; i++) expect(await login("mo", "guess", `10.1.0.${i}`)).toMatchObject({ error: "invalid_credentials" });
    expect(directory.calls).toBe(5);
    const blocked = await login("mo", "mo", "10.9.9.9");
    expect(blocked).toEqual({ ok: false, error: "throttled", message: LOGIN_REFUSED_MESSAGE });
    // The same name in another case is the same person.
    expect(await login("MO", "mo", "10.9.9.9")).toMatchObject({ error: "throttled" });
    expect(directory.calls).toBe(5);
    expect(await lastAudit()).toMatchObject({ action: "login.failed", outcome: "denied", data: { reason: "throttled", retryAfterSeconds: 30, blockedBy: ["user"] } });
  });

  it("doubles the block with each further failure and clears the count on success", async () => {
    for (let i = 0; i < 5; i++) await login("alice", "guess");
    clock.advance(29);
    expect(await login("alice", "alice")).toMatchObject({ error: "throttled" });
    clock.advance(2);
    expect(await login("alice", "guess")).toMatchObject({ error: "invalid_credentials" });
    clock.advance(59);
    expect(await login("alice", "alice")).toMatchObject({ error: "throttled" });
    clock.advance(2);
    expect(await login("alice", "alice")).toMatchObject({ ok: true });
    // The count started over: four more failures do not block.
    for (let i = 0; i < 4; i++) await login("alice", "guess");
    expect(await login("alice", "alice")).toMatchObject({ ok: true });
  });

  it("starts counting over once the window has passed", async () => {
    for (let i = 0; i < 4; i++) await login("otto", "guess");
    clock.advance(15 * 60 + 1);
    for (let i = 0; i < 4; i++) await login("otto", "guess");
    expect(await login("otto", "otto")).toMatchObject({ ok: true });
  });

  it("blocks a client address that tries many usernames, and only that address", async () => {
    for (let i = 0; i < 20; i++) await login(`user-${i}`, "guess", "203.0.113.7");
    expect(await login("vic", "vic", "203.0.113.7")).toMatchObject({ error: "throttled" });
    expect(await lastAudit()).toMatchObject({ data: { reason: "throttled", blockedBy: ["addr"] } });
    expect(await login("vic", "vic", "203.0.113.8")).toMatchObject({ ok: true });
    // A success elsewhere does not lift the address block.
    expect(await login("vic", "vic", "203.0.113.7")).toMatchObject({ error: "throttled" });
  });

  it("counts concurrent failures exactly", async () => {
    await Promise.all(Array.from({ length: 8 }, () => login("ada", "guess", null)));
    const [row] = await database.db.select().from(loginThrottle).where(eq(loginThrottle.key, "user:ada"));
    expect(row?.failures).toBe(8);
  });

  it("does not count an unreachable directory against the person", async () => {
    const down: Directory = { kind: "ldap", authenticate: async (): Promise<AuthenticationResult> => ({ ok: false, reason: "directory_unavailable" }), lookup: async () => null };
    for (let i = 0; i < 10; i++) {
      expect(await authenticate({ db: database.db, directory: down, now: clock.now }, { username: "ada", password: "ada" })).toMatchObject({ error: "directory_unavailable" });
    }
    expect(await login("ada", "ada")).toMatchObject({ ok: true });
  });

  it("leaves an intact audit chain", async () => {
    expect(await verifyAuditChain(database.db)).toMatchObject({ ok: true });
  });
});

describe("authenticate against OpenLDAP", () => {
  let slapd: Slapd;
  let database: DatabaseHandle;
  beforeAll(async () => {
    [slapd, database] = await Promise.all([startSlapd(), openTestDatabase("pglite")]);
  });
  afterAll(async () => {
    await Promise.all([slapd?.stop(), database?.close()]);
  });

  const ldapConfig = () =>
    loadLdapConfig(slapdSettings(slapd, { LOOPSTACKS_LDAP_NESTED_GROUPS: "recursive" }))!;

  it("stops asking the directory once a username is throttled, and stores the directory's groups", async () => {
    const directory = counting(createLdapDirectory(ldapConfig(), { warn: () => {} }));
    const login = (username: string, password: string) => authenticate({ db: database.db, directory }, { username, password, clientAddress: "192.0.2.1" });

    const ok = await login("alice", SEEDED.passwords.alice!);
    expect(ok).toMatchObject({ ok: true, identity: { subject: "alice", source: "ldap" } });
    expect((await getIdentity(database.db, "alice"))?.groups).toEqual(["operators", "platform", "engineering", "everyone"].map(SEEDED.group).sort());

    for (let i = 0; i < 5; i++) expect(await login("bob", "guess")).toMatchObject({ error: "invalid_credentials" });
    expect(await login("bob", SEEDED.passwords.bob!)).toMatchObject({ error: "throttled" });
    expect(await login("Bob", SEEDED.passwords.bob!)).toMatchObject({ error: "throttled" });
    expect(directory.calls).toBe(6);
  });

  it("throttles every spelling the directory signs in as one person under that person's name", async () => {
    await database.db.delete(loginThrottle);
    const directory = counting(createLdapDirectory(ldapConfig(), { warn: () => {} }));
    let address = 0;
    // Each attempt from an address of its own, so only the username count can block.
    const login = (username: string, password: string) => authenticate({ db: database.db, directory }, { username, password, clientAddress: `198.51.100.${++address}` });

    // OpenLDAP's caseIgnoreMatch takes fullwidth and mathematical bold letters for bob's.
    expect(await login("\u{1d41b}\u{1d428}\u{1d41b}", SEEDED.passwords.bob!)).toMatchObject({ ok: true, identity: { subject: "bob" } });
    directory.calls = 0;

    for (let i = 0; i < 5; i++) expect(await login("bob", "guess")).toMatchObject({ error: "invalid_credentials" });
    expect(await login("bob", "guess")).toMatchObject({ error: "throttled" });
    expect(await login("\uff42ob", "guess")).toMatchObject({ error: "throttled" });
    for (const spelling of ["\uff22\uff4fb", "\uff42\uff4f\uff42", "\u{1d41b}\u{1d428}\u{1d41b}", "BOB"]) {
      expect(await login(spelling, SEEDED.passwords.bob!)).toMatchObject({ error: "throttled" });
    }
    expect(directory.calls).toBe(5);
  });
});
