import { asc } from "drizzle-orm";
import { Attribute, Change, Client } from "ldapts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getIdentity } from "../../db/queries/identities";
import { addRealmMapping } from "../../db/queries/realms";
import { auditEvents } from "../../db/schema";
import { DATABASE_KINDS } from "../../test/database";
import { createTestRuntime, type TestRuntime } from "../../test/runtime-harness";
import { SEEDED, slapdSettings, startSlapd, type Slapd } from "../../test/slapd";
import type { Directory } from "../auth/directory";
import { loadLdapConfig } from "../auth/ldap/config";
import { createLdapDirectory } from "../auth/ldap/directory";
import type { Identity } from "../runtime/types";
import { authenticate } from "./authenticate";
import { resolveActor } from "./actor";
import { refreshIdentity, refreshSessionIdentity } from "./refresh-identity";

let slapd: Slapd;
let root: Client;

beforeAll(async () => {
  slapd = await startSlapd();
  root = new Client({ url: slapd.url, timeout: 2000, connectTimeout: 1000 });
  await root.bind(slapd.rootDn, slapd.rootPassword);
});
afterAll(async () => {
  await root?.unbind();
  await slapd?.stop();
});

const memberChange = (operation: "add" | "delete", uid: string) =>
  new Change({ operation, modification: new Attribute({ type: "member", values: [SEEDED.person(uid)] }) });

/** Counts look-ups, so a test can tell a re-check from a cached answer. */
function counting(directory: Directory) {
  const wrapped = {
    kind: directory.kind,
    lookups: 0,
    authenticate: (u: string, p: string) => directory.authenticate(u, p),
    async lookup(username: string) {
      wrapped.lookups++;
      return directory.lookup(username);
    },
  };
  return wrapped;
}

describe.each(DATABASE_KINDS)("group re-check at invocation on %s", (kind) => {
  let rt: TestRuntime;
  let directory: ReturnType<typeof counting>;
  let clock: Date;
  const now = () => clock;
  const realm = `ops-${kind}`;

  beforeAll(async () => {
    rt = await createTestRuntime(kind);
    directory = counting(
      createLdapDirectory(
        loadLdapConfig(slapdSettings(slapd))!,
        { warn: () => {} },
      ),
    );
    await addRealmMapping(rt.database.db, { realmId: realm, groupDn: SEEDED.group("maintainers"), role: "operator", createdBy: "test" });
    await rt.registry.register({ id: `${realm}-echo`, type: "llm", realm, llm: { model: "scripted" } });
  });
  afterAll(async () => {
    await rt?.closeAll();
  });

  it("takes a removal from a group into account at the first invocation after the interval", async () => {
    clock = new Date("2026-04-01T08:00:00Z");
    const deps = { db: rt.database.db, directory, groupRecheckSeconds: 300, now };
    const login = await authenticate({ db: rt.database.db, directory, now }, { username: "bob", password: SEEDED.passwords.bob! });
    expect(login.ok).toBe(true);
    const session: Identity = login.ok ? login.identity : (undefined as never);
    expect(session.groups).toEqual([SEEDED.group("maintainers")]);

    const first = await rt.executor.run(`${realm}-echo`, {}, { identity: await refreshIdentity(deps, session) });
    expect(first.status).toBe("succeeded");
    expect(directory.lookups).toBe(0);

    await root.modify(SEEDED.group("maintainers"), [memberChange("add", "erin"), memberChange("delete", "bob")]);
    try {
      // Within the interval the groups stored at login still hold.
      clock = new Date(clock.getTime() + 299_000);
      expect((await refreshIdentity(deps, session)).groups).toEqual([SEEDED.group("maintainers")]);
      expect(directory.lookups).toBe(0);

      clock = new Date(clock.getTime() + 2_000);
      const refreshed = await refreshIdentity(deps, session);
      expect(refreshed.groups).toEqual([]);
      expect(directory.lookups).toBe(1);
      const denied = await rt.executor.run(`${realm}-echo`, {}, { identity: refreshed });
      expect(denied.status).toBe("denied");
      expect((await getIdentity(rt.database.db, "bob"))?.groups).toEqual([]);
      const events = await rt.database.db.select().from(auditEvents).orderBy(asc(auditEvents.seq));
      expect(events.find((e) => e.action === "identity.groups_changed")).toMatchObject({ targetId: "bob", data: { removed: [SEEDED.group("maintainers")], added: [] } });

      // The old session still says "maintainers"; the stored, re-checked groups win.
      clock = new Date(clock.getTime() + 10_000);
      expect((await refreshIdentity(deps, session)).groups).toEqual([]);
    } finally {
      await root.modify(SEEDED.group("maintainers"), [memberChange("add", "bob"), memberChange("delete", "erin")]);
    }
  });

  it("re-checks on every call with an interval of 0, and a user gone from the directory holds no groups", async () => {
    clock = new Date("2026-04-02T08:00:00Z");
    const deps = { db: rt.database.db, directory, groupRecheckSeconds: 0, now };
    const login = await authenticate({ db: rt.database.db, directory, now }, { username: "alice", password: SEEDED.passwords.alice! });
    const session: Identity = login.ok ? login.identity : (undefined as never);
    const before = directory.lookups;
    expect((await refreshIdentity(deps, session)).groups).toEqual([SEEDED.group("operators")]);
    expect(directory.lookups).toBe(before + 1);

    const gone: Identity = { subject: "nobody-anymore", displayName: "Gone", groups: [SEEDED.group("operators")], kind: "user", source: "ldap" };
    expect((await refreshIdentity(deps, gone)).groups).toEqual([]);
    expect((await rt.database.db.select().from(auditEvents).orderBy(asc(auditEvents.seq))).at(-1)).toMatchObject({ action: "identity.removed", targetId: "nobody-anymore" });
  });

  it("leaves services and non-directory identities alone, and empties identities of another directory", async () => {
    const deps = { db: rt.database.db, directory, groupRecheckSeconds: 0, now };
    const service: Identity = { subject: "token:1", groups: [], kind: "service", source: "service-token" };
    const cli: Identity = { subject: "root", groups: ["cn=x"], kind: "user", source: "cli" };
    const before = directory.lookups;
    expect(await refreshIdentity(deps, service)).toBe(service);
    expect(await refreshIdentity(deps, cli)).toBe(cli);
    expect((await refreshIdentity(deps, { subject: "ada", groups: ["cn=loopstacks-admins,ou=groups,dc=loopstacks,dc=dev"], kind: "user", source: "dev-directory" })).groups).toEqual([]);
    expect(directory.lookups).toBe(before);
  });

  it("refuses to go ahead when the directory cannot confirm the groups", async () => {
    const down = createLdapDirectory(
      loadLdapConfig({ LOOPSTACKS_LDAP_URLS: "ldap://127.0.0.1:1", LOOPSTACKS_LDAP_INSECURE: "true", LOOPSTACKS_LDAP_USER_BASE_DN: "ou=people,dc=x", LOOPSTACKS_LDAP_CONNECT_TIMEOUT_MS: "200" })!,
      { warn: () => {} },
    );
    const identity: Identity = { subject: "alice", groups: [SEEDED.group("operators")], kind: "user", source: "ldap" };
    await expect(refreshIdentity({ db: rt.database.db, directory: down, groupRecheckSeconds: 0 }, identity)).rejects.toMatchObject({ code: "unavailable" });
  });
});

describe.each(DATABASE_KINDS)("a console session while the directory cannot be reached on %s", (kind) => {
  let rt: TestRuntime;
  let up: Directory;
  let down: ReturnType<typeof counting>;
  let clock: Date;
  const now = () => clock;
  const realm = `view-${kind}`;

  beforeAll(async () => {
    rt = await createTestRuntime(kind);
    up = createLdapDirectory(
      loadLdapConfig(slapdSettings(slapd))!,
      { warn: () => {} },
    );
    // Its own object per database kind: a directory found unreachable is not asked again for a while.
    down = counting(
      createLdapDirectory(
        loadLdapConfig({ LOOPSTACKS_LDAP_URLS: "ldap://127.0.0.1:1", LOOPSTACKS_LDAP_INSECURE: "true", LOOPSTACKS_LDAP_USER_BASE_DN: "ou=people,dc=x", LOOPSTACKS_LDAP_CONNECT_TIMEOUT_MS: "200" })!,
        { warn: () => {} },
      ),
    );
    await addRealmMapping(rt.database.db, { realmId: realm, groupDn: SEEDED.group("admins"), role: "viewer", createdBy: "test" });
    await addRealmMapping(rt.database.db, { realmId: realm, groupDn: SEEDED.group("operators"), role: "admin", createdBy: "test" });
  });
  afterAll(async () => {
    await rt?.closeAll();
  });

  it("views on the groups last confirmed, never undoing a removal already seen, for no longer than a session lives", async () => {
    await root.modify(SEEDED.group("operators"), [memberChange("add", "erin")]);
    try {
      clock = new Date("2026-05-01T08:00:00Z");
      const login = await authenticate({ db: rt.database.db, directory: up, now }, { username: "erin", password: SEEDED.passwords.erin! });
      const session: Identity = login.ok ? login.identity : (undefined as never);
      expect([...session.groups].sort()).toEqual([SEEDED.group("admins"), SEEDED.group("operators")]);

      await root.modify(SEEDED.group("operators"), [memberChange("delete", "erin")]);
      clock = new Date(clock.getTime() + 301_000);
      const seen = await refreshSessionIdentity({ db: rt.database.db, directory: up, groupRecheckSeconds: 300, now }, session);
      expect(seen).toEqual({ identity: { ...session, groups: [SEEDED.group("admins")] }, areGroupsConfirmed: true });

      // The directory goes away: the session cookie still says "operators", the re-checked groups win.
      clock = new Date(clock.getTime() + 301_000);
      const deps = { db: rt.database.db, directory: down, groupRecheckSeconds: 300, now };
      const fallback = await refreshSessionIdentity(deps, session);
      expect(fallback).toEqual({ identity: { ...session, groups: [SEEDED.group("admins")] }, areGroupsConfirmed: false });
      expect(down.lookups).toBe(1);
      const actor = await resolveActor(rt.database.db, fallback.identity);
      expect(actor.roles).toEqual([{ realm, role: "viewer", via: SEEDED.group("admins") }]);

      // Later requests do not each wait for the directory to time out.
      await refreshSessionIdentity(deps, session);
      expect(down.lookups).toBe(1);

      // Past a session's life since the directory last confirmed them, the groups stand for nothing.
      clock = new Date(clock.getTime() + 8 * 60 * 60 * 1000);
      expect(await refreshSessionIdentity({ ...deps, retrySeconds: 0 }, session)).toEqual({ identity: { ...session, groups: [] }, areGroupsConfirmed: false });
    } finally {
      await root.modify(SEEDED.group("operators"), [memberChange("delete", "erin")]).catch(() => {});
    }
  });

  it("gives a person the directory never confirmed no groups at all", async () => {
    clock = new Date("2026-05-02T08:00:00Z");
    const stranger: Identity = { subject: "never-seen", groups: [SEEDED.group("admins")], kind: "user", source: "ldap" };
    expect(await refreshSessionIdentity({ db: rt.database.db, directory: down, groupRecheckSeconds: 0, now }, stranger)).toEqual({
      identity: { ...stranger, groups: [] },
      areGroupsConfirmed: false,
    });
  });
});
