import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditEvents } from "../../db/schema";
import { createTestRuntime, type TestRuntime } from "../../test/runtime-harness";
import { isAppError } from "../errors";
import { resolveActor, type Actor } from "./actor";
import { getRun } from "./get-run";
import { decodeCursor, encodeCursor, listRuns } from "./list-runs";
import { MAX_RUN_INPUT_BYTES, startRun } from "./start-run";

describe("run services on pglite", () => {
  let rt: TestRuntime;
  let operatorA: Actor;
  let viewerA: Actor;
  let operatorB: Actor;
  let deps: { db: TestRuntime["database"]["db"]; executor: TestRuntime["executor"] };
  let alphaRunId: string;
  let betaRunId: string;

  beforeAll(async () => {
    rt = await createTestRuntime("pglite");
    deps = { db: rt.database.db, executor: rt.executor };
    operatorA = await resolveActor(rt.database.db, await rt.grant("alpha", "operator", "alice"));
    viewerA = await resolveActor(rt.database.db, await rt.grant("alpha", "viewer", "vic"));
    operatorB = await resolveActor(rt.database.db, await rt.grant("beta", "operator", "bob"));
    await rt.registry.registerMany([
      { id: "alpha-child", type: "llm", realm: "alpha", inputSchema: { type: "object", properties: { query: { type: "string" } } }, llm: { model: "m" } },
      { id: "alpha-parent", type: "llm", realm: "alpha", llm: { model: "m", tools: [{ name: "ask_child", loopRef: "alpha-child" }] } },
      { id: "beta-loop", type: "llm", realm: "beta", llm: { model: "m" } },
    ]);
    alphaRunId = (await startRun(deps, operatorA, { loopId: "alpha-parent", input: { request: "chest pain" } })).runId;
    betaRunId = (await startRun(deps, operatorB, { loopId: "beta-loop", input: {} })).runId;
    await rt.executor.drain();
  });

  afterAll(async () => {
    await rt?.closeAll();
  });

  it("starts a run for an operator of the loop's realm", async () => {
    const { run, trace } = await getRun(deps, operatorA, { runId: alphaRunId });
    expect(run).toMatchObject({ loopId: "alpha-parent", realm: "alpha", status: "succeeded", caller: "alice", frameCount: 2 });
    expect(run.input).toEqual({ request: "chest pain" });
    expect(trace?.loop.id).toBe("alpha-parent");
    expect(trace?.children.map((c) => [c.loop.id, c.status])).toEqual([["alpha-child", "succeeded"]]);
    expect(trace?.toolCalls[0]).toMatchObject({ name: "ask_child", childFrameId: trace?.children[0]?.id });
  });

  it("refuses to let a viewer start a run", async () => {
    const error = await startRun(deps, viewerA, { loopId: "alpha-parent", input: {} }).catch((e: unknown) => e);
    expect(isAppError(error, "forbidden")).toBe(true);
  });

  it("answers not_found when someone starts a loop of another realm", async () => {
    const error = await startRun(deps, operatorB, { loopId: "alpha-parent", input: {} }).catch((e: unknown) => e);
    expect(isAppError(error, "not_found")).toBe(true);
  });

  it("refuses an input over the size limit and one that breaks the input schema", async () => {
    const big = await startRun(deps, operatorA, { loopId: "alpha-parent", input: { text: "x".repeat(MAX_RUN_INPUT_BYTES) } }).catch((e: unknown) => e);
    expect(isAppError(big, "payload_too_large")).toBe(true);
    const wrong = await startRun(deps, operatorA, { loopId: "alpha-child", input: { query: 42 } }).catch((e: unknown) => e);
    expect(isAppError(wrong, "invalid_input")).toBe(true);
  });

  it("answers not_found for a run of another realm, and for a malformed id", async () => {
    expect(isAppError(await getRun(deps, operatorA, { runId: betaRunId }).catch((e: unknown) => e), "not_found")).toBe(true);
    expect(isAppError(await getRun(deps, operatorB, { runId: alphaRunId }).catch((e: unknown) => e), "not_found")).toBe(true);
    expect(isAppError(await getRun(deps, operatorA, { runId: "not-a-uuid" }).catch((e: unknown) => e), "not_found")).toBe(true);
  });

  it("lets a viewer read a run of their realm, and records the view when asked", async () => {
    const { run } = await getRun(deps, viewerA, { runId: alphaRunId }, { recordView: true });
    expect(run.id).toBe(alphaRunId);
    const events = await rt.database.db.select().from(auditEvents);
    expect(events.filter((e) => e.action === "trace.viewed").map((e) => [(e.actor as { subject: string }).subject, e.targetId])).toEqual([["vic", alphaRunId]]);
  });

  it("lists only the runs of the caller's realms", async () => {
    expect((await listRuns(deps, viewerA, {})).runs.map((r) => r.id)).toEqual([alphaRunId]);
    expect((await listRuns(deps, operatorB, {})).runs.map((r) => r.id)).toEqual([betaRunId]);
    expect((await listRuns(deps, operatorB, { realm: "alpha" })).runs).toEqual([]);
  });

  it("filters runs and pages through them with a cursor", async () => {
    for (let i = 0; i < 4; i++) await startRun(deps, operatorA, { loopId: "alpha-child", input: { query: `q${i}` } });
    await rt.executor.drain();
    expect((await listRuns(deps, operatorA, { loopId: "alpha-child" })).runs).toHaveLength(4);
    expect((await listRuns(deps, operatorA, { status: "failed" })).runs).toHaveLength(0);
    expect((await listRuns(deps, operatorA, { loopId: "alpha-child", from: "-000500-01-01T00:00:00Z", to: "+010000-01-01T00:00:00Z" })).runs).toHaveLength(4);
    expect((await listRuns(deps, operatorA, { from: "+275760-09-13T00:00:00Z" })).runs).toEqual([]);
    expect((await listRuns(deps, operatorA, { caller: "alice", status: "succeeded" })).runs).toHaveLength(5);

    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const result = await listRuns(deps, operatorA, { limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...result.runs.map((r) => r.id));
      if (!result.nextCursor) break;
      cursor = result.nextCursor;
    }
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    const all = (await listRuns(deps, operatorA, {})).runs;
    expect(seen).toEqual(all.map((r) => r.id));
    expect(all[0]).toMatchObject({ frameCount: 1, status: "succeeded" });
    expect(all[0]?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("round-trips cursors and ignores forged ones", () => {
    const at = new Date("2026-01-02T03:04:05.678Z");
    expect(decodeCursor(encodeCursor(at, alphaRunId))).toEqual({ createdAt: at, id: alphaRunId });
    expect(decodeCursor("garbage")).toBeUndefined();
    expect(decodeCursor(Buffer.from(JSON.stringify(["2026-01-01", "1' or 1=1"])).toString("base64url"))).toBeUndefined();
  });

  it("starts from the newest run for a cursor at a time the database cannot read", async () => {
    const forged = Buffer.from(JSON.stringify(["+010000-01-01T00:00:00Z", "00000000-0000-4000-8000-000000000000"])).toString("base64url");
    expect(decodeCursor(forged)).toBeUndefined();
    expect((await listRuns(deps, operatorA, { cursor: forged })).runs).toEqual((await listRuns(deps, operatorA, {})).runs);
  });
});
