import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { endedSessions, auditEvents } from "../../db/schema";
import { DATABASE_KINDS, openTestDatabase } from "../../test/database";
import type { DatabaseHandle } from "../../db/client";
import { SESSION_MAX_AGE_SECONDS } from "../auth/session";
import { isSessionLive } from "./check-session";
import { endSession } from "./end-session";

describe.each(DATABASE_KINDS)("signing a session out on %s", (kind) => {
  let database: DatabaseHandle;
  let clock: Date;
  const now = () => clock;
  const identity = { subject: "alice", groups: [], source: "ldap" };

  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(async () => {
    await database?.close();
  });

  const startedNow = () => ({ id: randomUUID(), startedAt: Math.floor(clock.getTime() / 1000) });

  it("ends the session for every copy of its cookie, and audits the sign-out", async () => {
    clock = new Date("2026-06-01T08:00:00Z");
    const session = startedNow();
    const other = startedNow();
    const deps = { db: database.db, now };
    expect(await isSessionLive(deps, session)).toBe(true);

    clock = new Date(clock.getTime() + 60_000);
    await endSession(deps, { session, identity });
    expect(await isSessionLive(deps, session)).toBe(false);
    expect(await isSessionLive(deps, other)).toBe(true);

    const [event] = (await database.db.select().from(auditEvents)).filter((e) => e.action === "logout");
    expect(event).toMatchObject({ action: "logout", outcome: "ok", actor: { subject: "alice", source: "ldap", kind: "user" }, targetType: "session", targetId: session.id });
    // Signing out again (a second tab) records nothing twice and fails nothing.
    await endSession(deps, { session, identity });
    expect(await isSessionLive(deps, session)).toBe(false);
  });

  it("refuses a session without claims (issued before sign-outs were recorded) and one past its maximum age since sign-in", async () => {
    clock = new Date("2026-06-02T08:00:00Z");
    const deps = { db: database.db, now };
    expect(await isSessionLive(deps, undefined)).toBe(false);
    expect(await isSessionLive(deps, { id: "not-a-uuid", startedAt: 1 })).toBe(false);
    const session = startedNow();
    clock = new Date(clock.getTime() + SESSION_MAX_AGE_SECONDS * 1000 - 1);
    expect(await isSessionLive(deps, session)).toBe(true);
    clock = new Date(clock.getTime() + 1);
    expect(await isSessionLive(deps, session)).toBe(false);
  });

  it("keeps a signed-out session until it would have expired, and prunes it at a later sign-out", async () => {
    clock = new Date("2026-06-03T08:00:00Z");
    const deps = { db: database.db, now };
    const first = startedNow();
    await endSession(deps, { session: first, identity });
    const ids = async () => (await database.db.select({ id: endedSessions.id }).from(endedSessions)).map((r) => r.id);
    expect(await ids()).toContain(first.id);

    clock = new Date(clock.getTime() + SESSION_MAX_AGE_SECONDS * 1000 + 1000);
    const second = startedNow();
    await endSession(deps, { session: second, identity });
    expect(await ids()).toEqual([second.id]);
  });
});
