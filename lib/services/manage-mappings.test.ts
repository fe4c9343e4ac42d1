import { eq } from "drizzle-orm";
import { asc } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseHandle } from "../../db/client";
import { verifyAuditChain } from "../../db/queries/audit";
import { auditEvents } from "../../db/schema";
import { DATABASE_KINDS, openTestDatabase } from "../../test/database";
import type { Role } from "../runtime/types";
import { resolveActor, type Actor } from "./actor";
import { addMapping, applyRealms, listMappings, removeMapping, type CliOperator } from "./manage-mappings";
import { realms } from "../../db/schema";

const cli: CliOperator = { subject: "cli:root", kind: "user", source: "cli" };
const group = (cn: string) => `cn=${cn},ou=groups,dc=example,dc=org`;

describe.each(DATABASE_KINDS)("realm mappings on %s", (kind) => {
  let database: DatabaseHandle;
  const db = () => ({ db: database.db });
  const person = (subject: string, ...groups: string[]) => resolveActor(database.db, { subject, groups, kind: "user", source: "ldap" });
  const events = async () => database.db.select().from(auditEvents).orderBy(asc(auditEvents.seq));
  let alphaAdmin: Actor;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    // The first admin comes from the CLI, which has direct database access.
    expect(await addMapping(db(), cli, { realm: "alpha", groupDn: group("alpha-admins"), role: "admin" })).toMatchObject({ added: true });
    await addMapping(db(), cli, { realm: "beta", groupDn: group("beta-admins"), role: "admin" });
    alphaAdmin = await person("ada", group("alpha-admins"));
  });
  afterAll(async () => {
    await database?.close();
  });

  it("bootstraps a realm and its first admin from the CLI, audited", async () => {
    const log = await events();
    expect(log.slice(0, 2)).toMatchObject([
      { action: "realm.created", realmId: "alpha", actor: { subject: "cli:root", source: "cli" } },
      { action: "mapping.added", realmId: "alpha", data: { groupDn: group("alpha-admins"), role: "admin" } },
    ]);
    expect(alphaAdmin.roles).toEqual([{ realm: "alpha", role: "admin", via: group("alpha-admins") }]);
  });

  it("lets a realm admin map a group, normalising the DN, once", async () => {
    const before = (await events()).length;
    const result = await addMapping(db(), alphaAdmin, { realm: "alpha", groupDn: "CN=Alpha-Ops, OU=Groups, DC=Example,DC=Org", role: "operator" });
    expect(result).toEqual({ added: true, realm: "alpha", groupDn: group("alpha-ops"), role: "operator" });
    expect((await events()).at(-1)).toMatchObject({ action: "mapping.added", realmId: "alpha", actor: { subject: "ada" }, data: { groupDn: group("alpha-ops"), role: "operator" } });
    expect((await addMapping(db(), alphaAdmin, { realm: "alpha", groupDn: group("alpha-ops"), role: "operator" })).added).toBe(false);
    expect((await events()).length).toBe(before + 1);
    // A member of the group, as the directory spells it, now holds the role.
    expect((await person("olga", "cn=alpha-ops,ou=groups,dc=example,dc=org")).roles).toEqual([{ realm: "alpha", role: "operator", via: group("alpha-ops") }]);
  });

  it.each<[string, () => Promise<Actor>, string, string]>([
    ["an admin of another realm", () => person("bea", group("beta-admins")), "alpha", "not_found"],
    ["a maintainer of the realm", async () => ({ identity: { subject: "m", groups: [], kind: "user", source: "ldap" }, roles: [{ realm: "alpha", role: "maintainer" as Role, via: "x" }] }), "alpha", "forbidden"],
    ["nobody", () => person("nobody"), "alpha", "not_found"],
    ["an admin, for a realm that does not exist", () => person("ada", group("alpha-admins")), "gamma", "not_found"],
  ])("refuses %s", async (_, actor, realm, code) => {
    const caller = await actor();
    await expect(addMapping(db(), caller, { realm, groupDn: group("x"), role: "viewer" })).rejects.toMatchObject({ code });
    await expect(removeMapping(db(), caller, { realm, groupDn: group("alpha-admins"), role: "admin" })).rejects.toMatchObject({ code });
  });

  it("names invalid fields", async () => {
    await expect(addMapping(db(), alphaAdmin, { realm: "Alpha!", groupDn: "ops", role: "root" as Role })).rejects.toMatchObject({
      code: "invalid_input",
      issues: [{ path: "realm" }, { path: "groupDn" }, { path: "role" }],
    });
  });

  it("removes a mapping, audited, but not the realm's last admin mapping from the console", async () => {
    await addMapping(db(), alphaAdmin, { realm: "alpha", groupDn: group("alpha-viewers"), role: "viewer" });
    expect(await removeMapping(db(), alphaAdmin, { realm: "alpha", groupDn: group("alpha-viewers"), role: "viewer" })).toMatchObject({ removed: true });
    expect((await events()).at(-1)).toMatchObject({ action: "mapping.removed", realmId: "alpha", data: { groupDn: group("alpha-viewers"), role: "viewer" } });
    await expect(removeMapping(db(), alphaAdmin, { realm: "alpha", groupDn: group("alpha-viewers"), role: "viewer" })).rejects.toMatchObject({ code: "not_found" });
    await expect(removeMapping(db(), alphaAdmin, { realm: "alpha", groupDn: group("alpha-admins"), role: "admin" })).rejects.toMatchObject({ code: "conflict" });
  });

  it("lists only the realms the caller administers", async () => {
    expect((await listMappings(db(), alphaAdmin)).map((r) => r.id)).toEqual(["alpha"]);
    expect((await listMappings(db(), alphaAdmin, { realm: "beta" })).map((r) => r.id)).toEqual([]);
    expect((await listMappings(db(), alphaAdmin))[0]!.mappings.map((m) => `${m.groupDn} ${m.role}`)).toEqual([`${group("alpha-admins")} admin`, `${group("alpha-ops")} operator`]);
    expect((await listMappings(db(), cli)).map((r) => r.id)).toEqual(["alpha", "beta"]);
  });

  describe("the realms: section of a loops file", () => {
    const section = [
      { id: "payments", name: "Payments", description: "Card payments", mappings: [{ group: group("pay-admins"), role: "admin" }, { group: group("pay-ops"), role: "operator" }] },
      { id: "alpha", mappings: [{ group: group("alpha-auditors"), role: "auditor" }] },
    ];

    it("creates realms and mappings, and a second apply changes nothing", async () => {
      expect(await applyRealms(database.db, section, cli)).toEqual([
        { realm: "payments", realmChange: "created", added: [{ groupDn: group("pay-admins"), role: "admin" }, { groupDn: group("pay-ops"), role: "operator" }], removed: [] },
        { realm: "alpha", realmChange: "unchanged", added: [{ groupDn: group("alpha-auditors"), role: "auditor" }], removed: [] },
      ]);
      const before = (await events()).length;
      expect((await applyRealms(database.db, section, cli)).every((r) => r.realmChange === "unchanged" && r.added.length === 0)).toBe(true);
      expect((await events()).length).toBe(before);
      expect((await listMappings(db(), cli, { realm: "payments" }))[0]).toMatchObject({ name: "Payments", description: "Card payments" });
    });

    it("removes unlisted mappings of an exclusive realm", async () => {
      const result = await applyRealms(database.db, [{ id: "payments", exclusive: true, mappings: [{ group: group("pay-admins"), role: "admin" }] }], cli);
      expect(result).toEqual([{ realm: "payments", realmChange: "unchanged", added: [], removed: [{ groupDn: group("pay-ops"), role: "operator" }] }]);
    });

    it("sets what compliance bundles carry for a realm", async () => {
      expect(await applyRealms(database.db, [{ id: "payments", export: { payloads: "hashed" } }], cli)).toMatchObject([{ realm: "payments", realmChange: "updated" }]);
      const [row] = await database.db.select({ settings: realms.settings }).from(realms).where(eq(realms.id, "payments"));
      expect(row?.settings).toEqual({ export: { payloads: "hashed" } });
      expect(await applyRealms(database.db, [{ id: "payments", export: { payloads: "hashed" } }], cli)).toMatchObject([{ realmChange: "unchanged" }]);
      await expect(applyRealms(database.db, [{ id: "payments", export: { payloads: "partial" } }], cli)).rejects.toMatchObject({ code: "invalid_definition" });
    });

    it("lets a realm admin apply their own realm only", async () => {
      expect(await applyRealms(database.db, [{ id: "alpha", name: "Alpha team" }], alphaAdmin)).toMatchObject([{ realm: "alpha", realmChange: "updated" }]);
      await expect(applyRealms(database.db, [{ id: "alpha" }, { id: "payments", mappings: [{ group: group("x"), role: "admin" }] }], alphaAdmin)).rejects.toMatchObject({ code: "not_found" });
      await expect(applyRealms(database.db, [{ id: "brand-new" }], alphaAdmin)).rejects.toMatchObject({ code: "not_found" });
      // Nothing of a refused file was applied.
      expect((await listMappings(db(), cli, { realm: "payments" }))[0]!.mappings.map((m) => m.groupDn)).toEqual([group("pay-admins")]);
    });

    it("reports every problem with its path", async () => {
      const issuesOf = async (section: unknown) => {
        const error = await applyRealms(database.db, section, cli).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: "invalid_definition" });
        return (error as { issues: { path: string }[] }).issues.map((i) => i.path);
      };
      expect(await issuesOf([{ id: "ok", mappings: [{ group: "not a dn", role: "boss" }] }, { id: "x", unknown: 1 }])).toEqual([
        "realms[0].mappings[0].group",
        "realms[0].mappings[0].role",
        "realms[1]",
      ]);
      expect(await issuesOf([{ id: "ok" }, { id: "ok", exclusive: true, mappings: [] }])).toEqual(["realms[1].id", "realms[1].mappings"]);
      expect(await issuesOf({ id: "not-a-list" })).toEqual(["realms"]);
    });
  });

  it("leaves an intact audit chain", async () => {
    expect(await verifyAuditChain(database.db)).toMatchObject({ ok: true });
  });
});
