import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_KINDS, openTestDatabase } from "../../test/database";
import type { DatabaseHandle } from "../client";
import { getRunTree, insertRun, upsertTraceBatch } from "./runs";

describe.each(DATABASE_KINDS)("trace rows on %s", (kind) => {
  let database: DatabaseHandle;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(async () => database?.close());

  it("keeps a long frame's and tool call's durations to the microsecond", async () => {
    const runId = "8c6f8f0e-6a55-4d55-9f4e-2f1f2d7c0a01";
    const frameId = "8c6f8f0e-6a55-4d55-9f4e-2f1f2d7c0a02";
    const identity = { subject: "ada", groups: [], kind: "user" as const, source: "test" };
    const at = new Date("2026-11-25T12:00:00Z");
    await insertRun(database.db, { id: runId, realmId: "clinic", loopId: "slow", loopRevision: 1, status: "running", input: {}, identity, createdAt: at, deadlineAt: null });
    const written = await upsertTraceBatch(database.db, {
      frames: [
        {
          id: frameId, runId, parentFrameId: null, parentToolCallId: null, depth: 0, seq: 0, realmId: "clinic", loopId: "slow", loopRevision: 1,
          loopType: "llm", promptVersion: null, promptChoice: null, status: "succeeded", input: {}, output: "done", model: "m", identity,
          authorization: { allowed: true, action: "invoke", realm: "clinic", role: "operator", via: "g", reason: "ok", checkedAt: at.toISOString() },
          createdAt: at, startedAt: at, endedAt: new Date(at.getTime() + 45_000), durationMs: 45_000.123,
        },
      ],
      toolCalls: [{ frameId, id: "toolu_1", runId, turn: 1, position: 0, name: "wait", kind: "mcp", input: {}, childFrameId: null, startedAt: at, output: "ok", isError: false, endedAt: at, durationMs: 44_999.877 }],
    });
    expect(written).toEqual({ replacedValues: false });
    const tree = await getRunTree(database.db, { runId, scope: "all" });
    expect(tree?.durationMs).toBe(45_000.123);
    expect(tree?.toolCalls[0]?.durationMs).toBe(44_999.877);
  });
});
