import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseHandle } from "../../db/client";
import { appendAuditEvent } from "../../db/queries/audit";
import { addRealmMapping } from "../../db/queries/realms";
import { DATABASE_KINDS, openTestDatabase } from "../../test/database";
import { resolveActor, type Actor } from "./actor";
import { listAuditEvents } from "./list-audit-events";

describe.each(DATABASE_KINDS)("audit log listing on %s", (kind) => {
  let database: DatabaseHandle;
  let auditorAlpha: Actor;
  let adminBeta: Actor;
  let operatorAlpha: Actor;
  const t0 = new Date("2026-05-01T10:00:00Z");
  const at = (minutes: number) => new Date(t0.getTime() + minutes * 60_000);

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    const db = database.db;
    const person = async (subject: string, realm: string, role: "auditor" | "admin" | "operator") => {
      const group = `cn=${realm}-${role},ou=groups,dc=test`;
      await addRealmMapping(db, { realmId: realm, groupDn: group, role, createdBy: "test" });
      return resolveActor(db, { subject, groups: [group], kind: "user", source: "ldap" });
    };
    auditorAlpha = await person("otto", "alpha", "auditor");
    adminBeta = await person("bea", "beta", "admin");
    operatorAlpha = await person("olga", "alpha", "operator");
    await appendAuditEvent(db, { action: "login.succeeded", actor: { subject: "otto" }, at: at(0) });
    await appendAuditEvent(db, { action: "login.failed", outcome: "failed", actor: { subject: "mallory" }, at: at(1) });
    await appendAuditEvent(db, { action: "mapping.added", actor: { subject: "cli:root" }, realmId: "alpha", at: at(2) });
    await appendAuditEvent(db, { action: "run.started", actor: { subject: "olga" }, realmId: "alpha", at: at(3) });
    await appendAuditEvent(db, { action: "mapping.added", actor: { subject: "bea" }, realmId: "beta", targetId: "secret-beta-group", at: at(4) });
    await appendAuditEvent(db, { action: "trace.viewed", actor: { subject: "otto" }, realmId: "alpha", at: at(5) });
  });
  afterAll(async () => {
    await database?.close();
  });

  const actions = (page: { events: { action: string; realmId: string | null }[] }) => page.events.map((e) => `${e.action}@${e.realmId ?? "-"}`);

  it("shows an auditor their realm's events and the instance's, newest first, never another realm's", async () => {
    const page = await listAuditEvents({ db: database.db }, auditorAlpha);
    expect(actions(page)).toEqual(["trace.viewed@alpha", "run.started@alpha", "mapping.added@alpha", "login.failed@-", "login.succeeded@-"]);
    expect(page).toMatchObject({ canView: true, realms: ["alpha"], nextBefore: null });
    expect(JSON.stringify(page.events)).not.toContain("secret-beta-group");
    expect(actions(await listAuditEvents({ db: database.db }, adminBeta))).toEqual(["mapping.added@beta", "login.failed@-", "login.succeeded@-"]);
  });

  it("shows nothing to people who are neither auditor nor admin", async () => {
    expect(await listAuditEvents({ db: database.db }, operatorAlpha)).toMatchObject({ events: [], canView: false });
  });

  it("filters by action or action prefix, actor, realm and time", async () => {
    const db = { db: database.db };
    expect(actions(await listAuditEvents(db, auditorAlpha, { action: "mapping.added" }))).toEqual(["mapping.added@alpha"]);
    expect(actions(await listAuditEvents(db, auditorAlpha, { action: "login." }))).toEqual(["login.failed@-", "login.succeeded@-"]);
    expect(actions(await listAuditEvents(db, auditorAlpha, { actor: "otto" }))).toEqual(["trace.viewed@alpha", "login.succeeded@-"]);
    expect(actions(await listAuditEvents(db, auditorAlpha, { realm: "alpha", action: "login." }))).toEqual([]);
    expect(actions(await listAuditEvents(db, auditorAlpha, { realm: "beta" }))).toEqual([]);
    expect(actions(await listAuditEvents(db, auditorAlpha, { from: at(1).toISOString(), to: at(3).toISOString() }))).toEqual(["run.started@alpha", "mapping.added@alpha", "login.failed@-"]);
    // A malformed filter from a hand-edited URL is no filter.
    expect((await listAuditEvents(db, auditorAlpha, { from: "yesterday-ish", limit: "lots" })).events).toHaveLength(5);
    // A year the database cannot read is brought to the edge of the range records lie in.
    expect((await listAuditEvents(db, auditorAlpha, { from: "-000500-01-01T00:00:00Z", to: "+010000-01-01T00:00:00Z" })).events).toHaveLength(5);
    expect((await listAuditEvents(db, auditorAlpha, { from: "+010000-01-01T00:00:00Z" })).events).toEqual([]);
  });

  it("pages by position in the chain", async () => {
    const db = { db: database.db };
    const first = await listAuditEvents(db, auditorAlpha, { limit: 2 });
    expect(actions(first)).toEqual(["trace.viewed@alpha", "run.started@alpha"]);
    const second = await listAuditEvents(db, auditorAlpha, { limit: 2, before: first.nextBefore! });
    expect(actions(second)).toEqual(["mapping.added@alpha", "login.failed@-"]);
    const third = await listAuditEvents(db, auditorAlpha, { limit: 2, before: second.nextBefore! });
    expect(actions(third)).toEqual(["login.succeeded@-"]);
    expect(third.nextBefore).toBeNull();
  });
});
