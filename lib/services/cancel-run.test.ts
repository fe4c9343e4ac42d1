import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestRuntime, type TestRuntime } from "../../test/runtime-harness";
import { resolveActor, type Actor } from "./actor";
import { cancelRun } from "./cancel-run";

describe("cancelRun", () => {
  let rt: TestRuntime;
  let operator: Actor;
  let viewer: Actor;
  let stranger: Actor;

  beforeAll(async () => {
    rt = await createTestRuntime("pglite");
    operator = await resolveActor(rt.database.db, await rt.grant("wards", "operator", "otto-op"));
    viewer = await resolveActor(rt.database.db, await rt.grant("wards", "viewer", "vera"));
    stranger = await resolveActor(rt.database.db, await rt.grant("labs", "operator", "lars"));
    await rt.registry.register({ id: "slow-child", type: "llm", realm: "wards", llm: { model: "m" } });
    await rt.registry.register({ id: "slow-parent", type: "llm", realm: "wards", llm: { model: "m", tools: [{ name: "ask", loopRef: "slow-child" }] } });
    rt.model.setScript("slow-parent", { steps: [{ toolUses: [{ name: "ask", input: {} }] }, { text: "done" }] });
    rt.model.setScript("slow-child", { steps: [{ hang: true }] });
  });
  afterAll(async () => rt?.closeAll());

  it("cancels a running run and its running child, refuses viewers, hides it from other realms", async () => {
    const started = await rt.executor.start("slow-parent", "go", { identity: operator.identity });
    // Cancel once the child is running (its model never answers).
    for (let i = 0; i < 100 && (await rt.store.getTrace(started.runId))?.children[0]?.status !== "running"; i++) await new Promise((r) => setTimeout(r, 50));
    await expect(cancelRun({ db: rt.database.db, executor: rt.executor }, viewer, { runId: started.runId })).rejects.toMatchObject({ code: "forbidden" });
    await expect(cancelRun({ db: rt.database.db, executor: rt.executor }, stranger, { runId: started.runId })).rejects.toMatchObject({ code: "not_found" });
    expect(await cancelRun({ db: rt.database.db, executor: rt.executor }, operator, { runId: started.runId })).toEqual({ runId: started.runId, status: "cancelling" });
    const result = await started.done;
    expect(result.status).toBe("cancelled");
    expect(result.trace.children.map((c) => c.status)).toEqual(["cancelled"]);
    await expect(cancelRun({ db: rt.database.db, executor: rt.executor }, operator, { runId: started.runId })).rejects.toMatchObject({ code: "conflict" });
  });
});
