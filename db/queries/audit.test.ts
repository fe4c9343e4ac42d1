import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_KINDS, openTestDatabase } from "../../test/database";
import type { DatabaseHandle } from "../client";
import { auditEvents } from "../schema";
import { appendAuditEvent, computeAuditHash, toAuditEvent, verifyAuditChain } from "./audit";

describe.each(DATABASE_KINDS)("appendAuditEvent on %s", (kind) => {
  let database: DatabaseHandle;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(async () => database?.close());

  it("keeps the chain gap-free and linked when many appends race, each hash covering the event as stored", async () => {
    const appended = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        appendAuditEvent(database.db, {
          action: "test.raced",
          actor: { subject: `user-${i}`, kind: "user" },
          realmId: i % 2 ? "clinic" : null,
          targetType: "thing",
          targetId: String(i),
          // Values that look like the placeholders the hash input carries change nothing.
          data: { i, note: 'seq-00000000-0000-0000-0000-000000000000 "prev-x" \u00e9\u{1F600}' },
        }),
      ),
    );
    const stored = (await database.db.select().from(auditEvents)).map(toAuditEvent).sort((a, b) => a.seq - b.seq);
    expect(stored.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    for (const [i, event] of stored.entries()) {
      expect(event.prevHash).toBe(i === 0 ? "0".repeat(64) : stored[i - 1]!.hash);
      const { hash, id: _id, ...rest } = event;
      expect(hash).toBe(computeAuditHash(rest));
    }
    // What each append returned is what was stored.
    for (const event of appended) expect(stored.find((e) => e.seq === event.seq)).toEqual(event);
    expect(await verifyAuditChain(database.db)).toMatchObject({ ok: true, count: 40 });
  });
});
