import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getQueueHealth, listWorkers } from "../../db/queries/cluster";
import { verifyAuditChain } from "../../db/queries/audit";
import { insertPromptVersion, lockLoopForPrompts, moveActivePromptVersion } from "../../db/queries/prompts";
import { walkTrace } from "../runtime/trace";
import type { Identity } from "../runtime/types";
import { startInProcessEngine, type InProcessEngine } from "../../test/cluster/in-process-engine";
import { createTestRuntime, type TestRuntime } from "../../test/runtime-harness";
import type { ClusterExecutor } from "./executor";
import type { ClusterWorker } from "./worker";

/** The same engine, in one process, on PGlite: what embedded mode would run. */
describe("cluster engine in-process on PGlite", () => {
  let rt: TestRuntime;
  let engine: InProcessEngine;
  let worker: ClusterWorker;
  let executor: ClusterExecutor;
  let operator: Identity;

  beforeAll(async () => {
    rt = await createTestRuntime("pglite");
    operator = await rt.grant("clinic", "operator", "pat");
    await rt.registry.registerMany([
      { id: "leaf", type: "llm", realm: "clinic", llm: { model: "claude-test" } },
      { id: "hang", type: "llm", realm: "clinic", llm: { model: "claude-test" } },
      { id: "root", type: "llm", realm: "clinic", llm: { model: "claude-test", tools: [{ name: "ask", loopRef: "leaf" }, { name: "wait", loopRef: "hang" }] } },
      { id: "guarded", type: "llm", realm: "vault", llm: { model: "claude-test" } },
      { id: "asks-vault", type: "llm", realm: "clinic", llm: { model: "claude-test", tools: [{ name: "vault", loopRef: "guarded" }] } },
      { id: "impatient", type: "llm", realm: "clinic", limits: { timeoutMs: 2_500 }, llm: { model: "claude-test", tools: [{ name: "wait", loopRef: "hang" }] } },
      { id: "delegator", type: "llm", realm: "clinic", llm: { model: "claude-test", tools: [{ name: "delegate", loopRef: "impatient" }] } },
    ]);
    rt.model.setScript("root", (req, { turn }) => {
      const wait = (req.messages[0]?.content as string).includes("wait");
      if (turn > 0) return { text: "root done" };
      return { toolUses: wait ? [{ name: "wait", input: {} }, { name: "ask", input: {} }] : [{ name: "ask", input: { q: 1 } }, { name: "ask", input: { q: 2 } }] };
    });
    rt.model.setScript("leaf", () => ({ text: "leaf answer" }));
    rt.model.setScript("hang", () => ({ hang: true }));
    rt.model.setScript("impatient", (_req, { turn }) => (turn === 0 ? { toolUses: [{ name: "wait", input: {} }] } : { text: "never asked" }));
    rt.model.setScript("delegator", (_req, { turn }) => (turn === 0 ? { toolUses: [{ name: "delegate", input: {} }] } : { text: "delegator done" }));
    rt.model.setScript("asks-vault", (_req, { turn }) => (turn === 0 ? { toolUses: [{ name: "vault", input: {} }] } : { text: "no access" }));
    engine = await startInProcessEngine(rt);
    ({ worker, executor } = engine);
  });

  afterAll(async () => {
    await engine?.close();
    await rt?.closeAll();
  });

  it("runs a tree with the trace the in-process executor would record", async () => {
    const result = await executor.run("root", { task: "go" }, { identity: operator });
    expect(result.status).toBe("succeeded");
    expect(result.output).toBe("root done");
    const frames = [...walkTrace(result.trace)];
    expect(frames.map((f) => f.loop.id).sort()).toEqual(["leaf", "leaf", "root"]);
    expect(result.trace.toolCalls.map((c) => c.childFrameId).sort()).toEqual(result.trace.children.map((c) => c.id).sort());
    expect(frames.every((f) => f.status === "succeeded" && f.authorization.allowed && f.prompt?.version === 1)).toBe(true);
    expect(result.trace.turns).toBe(2);
    expect((await listWorkers(rt.database.db, { scope: "all" }))[0]).toMatchObject({ isLive: true });
    expect(await getQueueHealth(rt.database.db)).toMatchObject({ isInstalled: true, status: "ok", workers: { live: 1 } });
  });

  it("runs every frame of a loop at the revision the run first resolved, while new runs get the new one", async () => {
    const leaf = (description: string) => ({ id: "pinned-leaf", type: "llm", realm: "clinic", description, llm: { model: "claude-test" } }) as const;
    await rt.registry.register(leaf("first"));
    await rt.registry.register({ id: "pinning", type: "llm", realm: "clinic", llm: { model: "claude-test", tools: [{ name: "leaf", loopRef: "pinned-leaf" }] } });
    rt.model.setScript("pinned-leaf", () => ({ text: "leaf" }));
    let revised = false;
    rt.model.setScript("pinning", async (_request, ctx) => {
      if (ctx.turn === 1 && !revised) {
        revised = true;
        await rt.registry.register(leaf("second"));
        // Past the worker's cache of current revisions, so the next child would see the new one.
        await new Promise((resolve) => setTimeout(resolve, 1_200));
      }
      return ctx.turn < 2 ? { toolUses: [{ name: "leaf", input: {} }] } : { text: "done" };
    });
    const first = await executor.run("pinning", "go", { identity: operator });
    expect(first.status).toBe("succeeded");
    expect(first.trace.children.map((c) => c.loop.revision)).toEqual([1, 1]);
    const second = await executor.run("pinning", "go", { identity: operator });
    expect(second.trace.children.map((c) => c.loop.revision)).toEqual([2, 2]);
  });

  it("authorizes every child with the caller's identity: a denied child is an error result, not an escalation", async () => {
    const result = await executor.run("asks-vault", {}, { identity: operator });
    expect(result.status).toBe("succeeded");
    const [child] = result.trace.children;
    expect(child).toMatchObject({ status: "denied", error: { code: "denied" }, authorization: { allowed: false, realm: "vault" } });
    expect(result.trace.toolCalls[0]).toMatchObject({ isError: true, childFrameId: child!.id });
  });

  it("ends a run at its deadline: the run and its frames fail with run_timeout", async () => {
    const started = Date.now();
    const result = await executor.run("root", "wait", { identity: operator, timeoutMs: 700 });
    expect(result.status).toBe("failed");
    expect(result.error).toMatchObject({ code: "run_timeout" });
    expect(Date.now() - started).toBeLessThan(5_000);
    const frames = [...walkTrace(result.trace)];
    expect(frames.find((f) => f.loop.id === "hang")).toMatchObject({ status: "failed", error: { code: "run_timeout" } });
    expect(frames.every((f) => f.status !== "running" && f.status !== "queued")).toBe(true);
  });

  it("times out a parent waiting for a hanging child: the parent fails, the child is cancelled, the grandparent gets the error and finishes", async () => {
    const started = Date.now();
    // The run's own deadline is far away: only the parent's limits.timeoutMs (2,500 ms) can end it this soon.
    const result = await executor.run("delegator", {}, { identity: operator, timeoutMs: 60_000 });
    expect(result.status).toBe("succeeded");
    expect(result.output).toBe("delegator done");
    expect(Date.now() - started).toBeLessThan(30_000);
    const [parent] = result.trace.children;
    expect(parent).toMatchObject({ status: "failed", error: { code: "frame_timeout", message: "Frame exceeded impatient's timeout of 2500 ms (limits.timeoutMs)" } });
    expect(parent!.children[0]).toMatchObject({ status: "cancelled", error: { code: "cancelled" } });
    expect(parent!.toolCalls[0]).toMatchObject({ isError: true, childFrameId: parent!.children[0]!.id });
    expect(parent!.toolCalls[0]!.endedAt).not.toBeNull();
    expect(result.trace.toolCalls[0]).toMatchObject({ isError: true, childFrameId: parent!.id, output: { error: { code: "frame_timeout" } } });
    // The delegator's next turn was asked with the timeout as an error result.
    const resumed = rt.model.requests.find((r) => r.frameId === result.trace.id && (r.body as { messages: unknown[] }).messages.length === 3);
    const toolResult = ((resumed?.body as { messages: { content: unknown }[] }).messages[2]!.content as { is_error?: boolean; content: string }[])[0];
    expect(toolResult).toMatchObject({ is_error: true, content: expect.stringMatching(/^frame_timeout: Frame exceeded impatient's timeout/) });
    // The hanging child's model call is no longer held by the worker.
    for (let i = 0; i < 100 && worker.stats().active > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(worker.stats().active).toBe(0);
  });

  it("keeps a replay's prompt version for the children a parent starts after a child timed out", async () => {
    await rt.registry.registerMany([
      { id: "replayed", type: "llm", realm: "clinic", llm: { model: "claude-test", systemPrompt: "First prompt." } },
      { id: "retrier", type: "llm", realm: "clinic", llm: { model: "claude-test", tools: [{ name: "delegate", loopRef: "impatient" }, { name: "ask", loopRef: "replayed" }] } },
    ]);
    rt.model.setScript("replayed", () => ({ text: "replayed answer" }));
    // The first turn's child times out; the turn after it asks the replayed loop.
    rt.model.setScript("retrier", (_req, { turn }) =>
      turn === 0 ? { toolUses: [{ name: "delegate", input: {} }] } : turn === 1 ? { toolUses: [{ name: "ask", input: {} }] } : { text: "retrier done" },
    );
    await rt.database.db.transaction(async (tx) => {
      await lockLoopForPrompts(tx, "replayed");
      const next = await insertPromptVersion(tx, { loopId: "replayed", systemPrompt: "Second prompt.", params: {}, author: "test", message: "newer" });
      await moveActivePromptVersion(tx, { loopId: "replayed", kind: "promotion", fromVersion: 1, toVersion: next.version, actor: "test", reason: "test", at: new Date() });
    });
    const result = await executor.run("retrier", {}, { identity: operator, timeoutMs: 60_000, promptOverride: { loopId: "replayed", version: 1 } });
    expect(result.status).toBe("succeeded");
    const [timedOut, replayed] = result.trace.children;
    expect(timedOut).toMatchObject({ status: "failed", error: { code: "frame_timeout" } });
    expect(replayed).toMatchObject({ status: "succeeded", loop: { id: "replayed" }, prompt: { version: 1, reason: "replay" } });
    const asked = rt.model.requests.find((r) => r.frameId === replayed!.id);
    expect((asked?.body as { system?: string }).system).toBe("First prompt.");
  });

  it("audits a run's start in the transaction that records it: a start that cannot be audited records and dispatches nothing", async () => {
    const started = await executor.run("leaf", {}, { identity: operator });
    expect(started.status).toBe("succeeded");
    const { rows: audited } = await rt.database.pglite!.query<{ n: number }>(
      `select count(*)::int as n from audit_events where action = 'run.started' and target_id = $1 and data->>'engine' = 'cluster'`,
      [started.runId],
    );
    expect(audited).toEqual([{ n: 1 }]);
    expect(await verifyAuditChain(rt.database.db)).toMatchObject({ ok: true });

    await rt.registry.register({ id: "unaudited", type: "llm", realm: "clinic", llm: { model: "claude-test" } });
    rt.model.setScript("unaudited", () => ({ text: "must not be asked" }));
    await rt.database.pglite!.exec(`
      create function refuse_audit() returns trigger language plpgsql as $$
        begin if new.data->>'loopId' = 'unaudited' then raise exception 'the audit log refuses this event'; end if; return new; end $$;
      create trigger refuse_audit before insert on audit_events for each row execute function refuse_audit();`);
    try {
      await expect(executor.start("unaudited", {}, { identity: operator })).rejects.toThrow(/the audit log refuses this event/);
    } finally {
      await rt.database.pglite!.exec(`drop trigger refuse_audit on audit_events; drop function refuse_audit();`);
    }
    const { rows: recorded } = await rt.database.pglite!.query<{ n: number }>(`select count(*)::int as n from runs where loop_id = 'unaudited'`);
    expect(recorded).toEqual([{ n: 0 }]);
    expect(rt.model.requests.filter((r) => r.loopId === "unaudited")).toEqual([]);
  });

  it("fails the run when the root frame times out while its child hangs", async () => {
    const result = await executor.run("impatient", {}, { identity: operator, timeoutMs: 60_000 });
    expect(result.status).toBe("failed");
    expect(result.error).toMatchObject({ code: "frame_timeout" });
    expect(result.trace).toMatchObject({ status: "failed", error: { code: "frame_timeout" } });
    expect(result.trace.children[0]).toMatchObject({ status: "cancelled" });
    expect([...walkTrace(result.trace)].flatMap((f) => f.toolCalls).every((c) => c.endedAt !== null)).toBe(true);
  });

  it("cancels a run whose child hangs", async () => {
    const { runId, done } = await executor.start("root", "wait", { identity: operator });
    for (let i = 0; i < 100; i++) {
      const { rows } = await rt.database.pglite!.query<{ n: number }>(`select count(*)::int as n from frames where run_id = $1 and loop_id = 'hang' and status = 'running'`, [runId]);
      if (rows[0]!.n === 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    executor.cancel(runId, "stop");
    const result = await done;
    expect(result.status).toBe("cancelled");
    expect([...walkTrace(result.trace)].every((f) => f.status === "cancelled" || f.loop.id === "leaf")).toBe(true);
    await executor.drain();
  });
});
