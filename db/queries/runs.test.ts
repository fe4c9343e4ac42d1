import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_KINDS, openTestDatabase } from "../../test/database";
import type { DatabaseHandle } from "../client";
import { getRun, getRunTree, insertRun, upsertTraceBatch } from "./runs";

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

  it("updates stored frames and tool calls from what can change, keeping the rest of the row", async () => {
    const runId = "8c6f8f0e-6a55-4d55-9f4e-2f1f2d7c0b01";
    const frameId = "8c6f8f0e-6a55-4d55-9f4e-2f1f2d7c0b02";
    const identity = { subject: "grace", groups: ["cn=x"], kind: "user" as const, source: "test" };
    const at = new Date("2026-11-25T12:00:00Z");
    const authorization = { allowed: true, action: "invoke" as const, realm: "clinic", role: "operator" as const, via: "cn=x", reason: "ok", checkedAt: at.toISOString() };
    await insertRun(database.db, { id: runId, realmId: "clinic", loopId: "agent", loopRevision: 1, status: "running", input: {}, identity, createdAt: at, deadlineAt: null });
    const running = {
      id: frameId, runId, parentFrameId: null, parentToolCallId: null, depth: 0, seq: 0, realmId: "clinic", loopId: "agent", loopRevision: 1,
      loopType: "llm", promptVersion: 3, promptChoice: { reason: "active" }, status: "running" as const, input: { q: "why" }, model: "m", identity,
      authorization, createdAt: at, startedAt: at,
    };
    const call = { frameId, id: "toolu_9", runId, turn: 1, position: 0, name: "look", kind: "mcp" as const, input: { path: "/a" }, childFrameId: null, startedAt: at };
    await upsertTraceBatch(database.db, { frames: [running], toolCalls: [call] });
    const ended = new Date(at.getTime() + 1_500);
    await upsertTraceBatch(database.db, {
      frames: [],
      toolCalls: [],
      frameUpdates: [{ ...running, status: "succeeded", output: { answer: 42 }, attempts: [], inputTokens: 7, outputTokens: 9, turns: 2, endedAt: ended, durationMs: 1_500 }],
      toolCallUpdates: [{ ...call, output: "found", isError: false, endedAt: ended, durationMs: 1_200 }],
    });
    const tree = await getRunTree(database.db, { runId, scope: "all" });
    expect(tree).toMatchObject({
      status: "succeeded", output: { answer: 42 }, input: { q: "why" }, identity, prompt: { version: 3 }, usage: { inputTokens: 7, outputTokens: 9 }, turns: 2, durationMs: 1_500,
    });
    expect(tree?.authorization).toEqual(authorization);
    expect(tree?.toolCalls).toEqual([expect.objectContaining({ id: "toolu_9", input: { path: "/a" }, output: "found", isError: false, durationMs: 1_200 })]);
  });

  it("ends a run in the statement that writes its last frame, keeping the counts a run end leaves out", async () => {
    const runId = "8c6f8f0e-6a55-4d55-9f4e-2f1f2d7c0c01";
    const frameId = "8c6f8f0e-6a55-4d55-9f4e-2f1f2d7c0c02";
    const otherRunId = "8c6f8f0e-6a55-4d55-9f4e-2f1f2d7c0c03";
    const identity = { subject: "ada", groups: [], kind: "user" as const, source: "test" };
    const at = new Date("2026-11-25T12:00:00Z");
    const ended = new Date(at.getTime() + 2_000);
    for (const id of [runId, otherRunId]) {
      await insertRun(database.db, { id, realmId: "clinic", loopId: "agent", loopRevision: 1, status: "running", input: {}, identity, createdAt: at, deadlineAt: null });
    }
    const frame = {
      id: frameId, runId, parentFrameId: null, parentToolCallId: null, depth: 0, seq: 0, realmId: "clinic", loopId: "agent", loopRevision: 1,
      loopType: "llm", promptVersion: null, promptChoice: null, status: "failed" as const, input: {}, model: "m", identity,
      error: { code: "max_turns", message: "The loop used its 3 turns" },
      authorization: { allowed: true, action: "invoke" as const, realm: "clinic", role: "operator" as const, via: "g", reason: "ok", checkedAt: at.toISOString() },
      createdAt: at, startedAt: at, endedAt: ended, durationMs: 2_000,
    };
    const written = await upsertTraceBatch(database.db, {
      frames: [frame],
      toolCalls: [],
      runEnds: [
        { runId, status: "failed", output: null, error: frame.error, endedAt: ended, frameCount: 1, inputTokens: 12, outputTokens: 5 },
        { runId: otherRunId, status: "succeeded", output: { text: "nul \u0000 here" } },
      ],
    });
    expect(written).toEqual({ replacedValues: true });
    const run = await getRun(database.db, { runId, scope: "all" });
    expect(run).toMatchObject({ status: "failed", output: null, error: frame.error, frameCount: 1, inputTokens: 12, outputTokens: 5 });
    expect(run?.endedAt?.getTime()).toBe(ended.getTime());
    expect((await getRunTree(database.db, { runId, scope: "all" }))?.status).toBe("failed");
    // A run end without counts or an end time keeps the row's own.
    const other = await getRun(database.db, { runId: otherRunId, scope: "all" });
    expect(other).toMatchObject({ status: "succeeded", output: { text: "nul \ufffd here" }, frameCount: 0, inputTokens: 0, outputTokens: 0, endedAt: null });
  });
});
