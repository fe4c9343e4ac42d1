import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { listConversationTurns, listRuns } from "../../db/queries/runs";
import { verifyAuditChain } from "../../db/queries/audit";
import { DATABASE_KINDS } from "../../test/database";
import { everythingStdioServer, startEverythingHttpServer } from "../../test/mcp-servers";
import { createTestRuntime, type TestRuntime } from "../../test/runtime-harness";
import { isAppError } from "../errors";
import { createRuntime } from "./index";
import { createAnthropicModelClient } from "./anthropic-model-client";
import { createMcpClientFactory } from "./mcp/client-factory";
import { walkTrace } from "./trace";
import type { Identity, TraceFrame } from "./types";

function find(root: TraceFrame, loopId: string): TraceFrame[] {
  return [...walkTrace(root)].filter((f) => f.loop.id === loopId);
}

describe.each(DATABASE_KINDS)("executor on %s", (kind) => {
  let rt: TestRuntime;
  let operator: Identity;
  let httpServer: Server;
  let httpUrl: string;
  const httpSeen: { url: string; headers: Record<string, unknown>; body: string }[] = [];

  beforeAll(async () => {
    rt = await createTestRuntime(kind);
    operator = await rt.grant("clinic", "operator", "alice");
    httpServer = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        httpSeen.push({ url: req.url ?? "", headers: req.headers, body });
        if (req.url?.startsWith("/hang")) return; // never answers
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ data: { cases: [`case for ${new URL(req.url ?? "/", "http://x").searchParams.get("q")}`] } }));
      });
    });
    await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    httpUrl = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    httpServer?.closeAllConnections();
    httpServer?.close();
    await rt?.closeAll();
  });

  it("rejects an invalid definition with every problem and its path", async () => {
    const error = await rt.registry
      .register({ id: "Bad Id", type: "llm", realm: "clinic", llm: { model: "", tools: [{ name: "x", loopRef: "missing" }], maxTurns: 0 } })
      .catch((e: unknown) => e);
    expect(isAppError(error, "invalid_definition")).toBe(true);
    const paths = (error as { issues: { path: string }[] }).issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(["id", "llm.model", "llm.maxTurns"]));

    const missingRef = await rt.registry
      .register({ id: "caller", type: "llm", realm: "clinic", llm: { model: "m", tools: [{ name: "x", loopRef: "does-not-exist" }] } })
      .catch((e: unknown) => e);
    expect(isAppError(missingRef, "invalid_definition")).toBe(true);
    expect((missingRef as { issues: { path: string; message: string }[] }).issues).toEqual([
      { path: "llm.tools[0].loopRef", message: 'loop "does-not-exist" does not exist' },
    ]);
    expect(await rt.store.getLoop("caller")).toBeNull();

    const lookahead = await rt.registry
      .register({ id: "guarded", type: "http", realm: "clinic", inputSchema: { type: "object", properties: { user: { type: "string", pattern: "^(?!admin)" } } }, http: { method: "GET", url: `${httpUrl}/x` } })
      .catch((e: unknown) => e);
    expect(isAppError(lookahead, "invalid_definition")).toBe(true);
    expect((lookahead as { issues: { path: string; message: string }[] }).issues).toEqual([
      { path: "inputSchema", message: expect.stringContaining("not a valid JSON Schema: Patterns run on RE2, which has no lookaround") as string },
    ]);
  });

  it("makes a new revision only when the definition changes, and a prompt version only when the prompt does", async () => {
    const def = { id: "rev-loop", type: "llm", realm: "clinic", llm: { model: "m1", systemPrompt: "v1" } } as const;
    const first = await rt.registry.register(def);
    const same = await rt.registry.register(def);
    const described = await rt.registry.register({ ...def, description: "now described" });
    const reprompted = await rt.registry.register({ ...def, llm: { ...def.llm, systemPrompt: "v2" } });
    expect([first.revision, same.revision, described.revision, reprompted.revision]).toEqual([1, 1, 2, 3]);
    expect([first.changed, same.changed, described.changed]).toEqual([true, false, true]);
    expect([first.promptVersion, described.promptVersion, reprompted.promptVersion]).toEqual([1, null, 2]);
    const revisions = await rt.registry.revisions("rev-loop");
    expect(revisions.map((r) => r.revision)).toEqual([3, 2, 1]);
    expect((await rt.store.getActivePrompt("rev-loop"))?.systemPrompt).toBe("v2");
    const moved = await rt.registry.register({ ...def, realm: "elsewhere" }).catch((e: unknown) => e);
    expect(isAppError(moved, "conflict")).toBe(true);
  });

  it("runs a three-level tree with parallel tool calls and records every frame field", async () => {
    await rt.registry.registerMany([
      {
        id: "leaf-http",
        type: "http",
        realm: "clinic",
        inputSchema: { type: "object", properties: { q: { type: "string" } }, required: ["q"] },
        http: { method: "GET", url: `${httpUrl}/cases?q={{input.q}}`, response: { pick: "data.cases" } },
      },
      {
        id: "middle",
        type: "llm",
        realm: "clinic",
        inputSchema: { type: "object", properties: { q: { type: "string" } }, required: ["q"] },
        llm: { model: "claude-test", systemPrompt: "Find cases.", tools: [{ name: "fetch_cases", loopRef: "leaf-http" }] },
      },
      {
        id: "root",
        type: "llm",
        realm: "clinic",
        llm: { model: "claude-test", systemPrompt: "Classify.", tools: [{ name: "search", loopRef: "middle" }] },
      },
    ]);
    rt.model.setScript("root", {
      steps: [
        { toolUses: [{ name: "search", input: { q: "afib" } }, { name: "search", input: { q: "chf" } }] },
        { text: "risk: high" },
      ],
    });
    rt.model.setScript("middle", (request) => {
      const last = request.messages.at(-1);
      const hasResult = Array.isArray(last?.content) && last.content.some((b) => b.type === "tool_result");
      const q = typeof last?.content === "string" ? (JSON.parse(last.content) as { q: string }).q : "";
      return hasResult ? { text: "found cases" } : { toolUses: [{ name: "fetch_cases", input: { q } }] };
    });

    const result = await rt.executor.run("root", { vitals: { hr: 130 } }, { identity: operator });
    expect(result.status).toBe("succeeded");
    expect(result.output).toBe("risk: high");

    const trace = result.trace;
    expect(trace.loop).toEqual({ id: "root", revision: 1, type: "llm", realm: "clinic" });
    expect(trace.children).toHaveLength(2);
    expect(trace.children.map((c) => c.loop.id)).toEqual(["middle", "middle"]);
    const leaves = find(trace, "leaf-http");
    expect(leaves).toHaveLength(2);
    expect(leaves.map((l) => l.output).sort()).toEqual([["case for afib"], ["case for chf"]]);
    expect(leaves.every((l) => l.depth === 2)).toBe(true);

    // The two children ran concurrently: each started before the other ended.
    const [a, b] = trace.children as [TraceFrame, TraceFrame];
    expect(Date.parse(a.startedAt!)).toBeLessThanOrEqual(Date.parse(b.endedAt!));
    expect(Date.parse(b.startedAt!)).toBeLessThanOrEqual(Date.parse(a.endedAt!));

    // Every field the trace promises, on the root.
    expect(trace).toMatchObject({
      runId: result.runId,
      parentFrameId: null,
      depth: 0,
      prompt: { version: 1, reason: "active" },
      status: "succeeded",
      input: { vitals: { hr: 130 } },
      output: "risk: high",
      error: null,
      model: "claude-test",
      turns: 2,
      identity: { subject: "alice" },
      authorization: { allowed: true, realm: "clinic", role: "operator" },
    });
    expect(trace.usage.inputTokens).toBeGreaterThan(0);
    expect(trace.usage.outputTokens).toBeGreaterThan(0);
    expect(trace.attempts.map((x) => [x.turn, x.ok])).toEqual([[1, true], [2, true]]);
    expect(trace.durationMs).toBeGreaterThan(0);
    expect(trace.toolCalls).toHaveLength(2);
    for (const call of trace.toolCalls) {
      expect(call).toMatchObject({ name: "search", kind: "loop", isError: false, turn: 1 });
      const child = trace.children.find((c) => c.id === call.childFrameId);
      expect(child?.parentToolCallId).toBe(call.id);
      expect(call.output).toBe("found cases");
    }
    // The conversation was saved turn by turn.
    const turns = await listConversationTurns(rt.database.db, trace.id);
    expect(turns.map((t) => t.stopReason)).toEqual(["tool_use", "end_turn"]);
    expect(turns[0]!.messages).toHaveLength(2);    // The result's trace is the trace as stored.
    expect(result.trace).toEqual(await rt.store.getTrace(result.runId));
  });

  it("returns a failed child as an is_error tool result, and an unknown tool too", async () => {
    await rt.registry.register({ id: "broken-http", type: "http", realm: "clinic", retry: { maxAttempts: 1 }, http: { method: "GET", url: "http://127.0.0.1:1/nothing" } });
    await rt.registry.register({
      id: "tolerant",
      type: "llm",
      realm: "clinic",
      llm: { model: "m", tools: [{ name: "broken", loopRef: "broken-http" }] },
    });
    rt.model.setScript("tolerant", {
      steps: [{ toolUses: [{ name: "broken", input: {} }, { name: "no_such_tool", input: {} }] }, { text: "recovered" }],
    });
    const result = await rt.executor.run("tolerant", "go", { identity: operator });
    expect(result.status).toBe("succeeded");
    const calls = result.trace.toolCalls;
    expect(calls.map((c) => [c.name, c.kind, c.isError])).toEqual([
      ["broken", "loop", true],
      ["no_such_tool", "unknown", true],
    ]);
    expect(result.trace.children[0]).toMatchObject({ status: "failed", error: { code: "http_connection_error" } });
    // What the model saw on its second turn.
    const secondCall = rt.model.requests.filter((r) => r.loopId === "tolerant").at(-1)!;
    const body = secondCall.body as { messages: { content: unknown }[] };
    const results = (body.messages.at(-1)!.content as { is_error?: boolean; content: string }[]).map((b) => [b.is_error, b.content.split(":")[0]]);
    expect(results).toEqual([
      [true, "http_connection_error"],
      [true, 'Unknown tool "no_such_tool". Available tools'],
    ]);
  });

  it("keeps a NUL character from a model or an HTTP server from breaking the trace", async () => {
    const nulServer = createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ note: "zero\u0000byte", "key\u0000": "half \ud800 pair", pair: "\ud83d\ude00" }));
    });
    await new Promise<void>((resolve) => nulServer.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(nulServer.address() as AddressInfo).port}/`;
      await rt.registry.register({ id: "nul-http", type: "http", realm: "clinic", http: { method: "GET", url } });
      await rt.registry.register({ id: "nul-talker", type: "llm", realm: "clinic", llm: { model: "m", tools: [{ name: "fetch", loopRef: "nul-http" }] } });
      rt.model.setScript("nul-talker", { steps: [{ toolUses: [{ name: "fetch", input: {} }] }, { text: "answer with \u0000 inside" }] });
      const result = await rt.executor.run("nul-talker", "go", { identity: operator });
      expect(result.status).toBe("succeeded");
      expect(result.trace.output).toBe("answer with \uFFFD inside");
      expect(result.trace.children[0]).toMatchObject({ status: "succeeded", output: { note: "zero\uFFFDbyte", "key\uFFFD": "half \uFFFD pair", pair: "\ud83d\ude00" } });
      const turns = await listConversationTurns(rt.database.db, result.trace.id);
      expect(turns.map((t) => t.stopReason)).toEqual(["tool_use", "end_turn"]);
      expect(turns[1]!.messages).toEqual([{ role: "assistant", content: [{ type: "text", text: "answer with \uFFFD inside" }] }]);
      expect(result.trace).toEqual(await rt.store.getTrace(result.runId));
      // The writer is not stuck: the next run is recorded as usual.
      const next = await rt.executor.run("nul-http", {}, { identity: operator });
      expect(next.trace.status).toBe("succeeded");
    } finally {
      nulServer.close();
    }
  });

  it("retries a 429 and records both attempts", async () => {
    await rt.registry.register({ id: "flaky", type: "llm", realm: "clinic", retry: { initialDelayMs: 5 }, llm: { model: "m" } });
    rt.model.setScript("flaky", { steps: [{ error: { status: 429 } }, { text: "ok after retry" }] });
    const result = await rt.executor.run("flaky", "hi", { identity: operator });
    expect(result.status).toBe("succeeded");
    expect(result.output).toBe("ok after retry");
    expect(result.trace.attempts.map((a) => [a.attempt, a.ok, a.error?.status])).toEqual([
      [1, false, 429],
      [2, true, undefined],
    ]);
    // The scripted 429 asks for a second (retry-after: 1), longer than the backoff.
    expect(result.trace.attempts[0]!.delayMs).toBe(1_000);
  });

  it("fails a malformed model response without retrying it", async () => {
    await rt.registry.register({ id: "garbled", type: "llm", realm: "clinic", llm: { model: "m" } });
    rt.model.setScript("garbled", { steps: [{ malformed: "missing-content" }] });
    const result = await rt.executor.run("garbled", "hi", { identity: operator });
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("model_response_invalid");
    // The attempt that brought it is recorded as failed, with the reason.
    expect(result.trace.attempts).toMatchObject([{ attempt: 1, ok: false, error: { code: "model_response_invalid" } }]);
  });

  it("fails a model answer that reuses a tool_use id from an earlier turn, at the attempt that brought it", async () => {
    await rt.registry.register({ id: "reuses-ids", type: "llm", realm: "clinic", llm: { model: "m", tools: [{ name: "leaf", loopRef: "rev-loop" }] } });
    rt.model.setScript("rev-loop", { steps: [{ text: "leaf" }] });
    const call = { name: "leaf", input: {}, id: "toolu_same" };
    rt.model.setScript("reuses-ids", { steps: [{ toolUses: [call] }, { toolUses: [call] }, { text: "never" }] });
    const result = await rt.executor.run("reuses-ids", "go", { identity: operator });
    expect(result.error).toMatchObject({ code: "model_response_invalid", message: expect.stringContaining('"toolu_same" was used in an earlier turn') });
    expect(result.trace.toolCalls).toHaveLength(1);
    expect(result.trace.attempts.at(-1)).toMatchObject({ turn: 2, ok: false, error: { code: "model_response_invalid" } });
  });

  it("fails a model response that reports an impossible token count, and the trace is still written", async () => {
    await rt.registry.register({ id: "overbilled", type: "llm", realm: "clinic", retry: { maxAttempts: 1 }, llm: { model: "m" } });
    let calls = 0;
    rt.model.setScript("overbilled", () => (calls++ === 0 ? { malformed: "absurd-usage" } : { text: "fine" }));
    const result = await rt.executor.run("overbilled", "hi", { identity: operator });
    expect(result.status).toBe("failed");
    expect(result.error).toMatchObject({ code: "model_response_invalid", message: expect.stringContaining("usage.input_tokens") });
    expect(result.trace).toMatchObject({ status: "failed", usage: { inputTokens: 0 } });
    const next = await rt.executor.run("overbilled", "again", { identity: operator });
    expect(next.trace).toMatchObject({ status: "succeeded", output: "fine" });
  });

  it("stops recursion at max depth (a loop may call itself)", async () => {
    await rt.registry.register({
      id: "recursive",
      type: "llm",
      realm: "clinic",
      limits: { maxDepth: 3 },
      llm: { model: "m", tools: [{ name: "again", loopRef: "recursive" }] },
    });
    rt.model.setScript("recursive", (request) => {
      const last = request.messages.at(-1);
      const answered = Array.isArray(last?.content) && last.content.some((b) => b.type === "tool_result");
      return answered ? { text: "unwound" } : { toolUses: [{ name: "again", input: {} }] };
    });
    const result = await rt.executor.run("recursive", {}, { identity: operator });
    expect(result.status).toBe("succeeded");
    const frames = [...walkTrace(result.trace)];
    expect(frames.map((f) => f.depth)).toEqual([0, 1, 2, 3, 4]);
    expect(frames.at(-1)).toMatchObject({ status: "failed", error: { code: "max_depth_exceeded" } });
  });

  it("stops at max turns", async () => {
    await rt.registry.register({ id: "chatty", type: "llm", realm: "clinic", llm: { model: "m", maxTurns: 2, tools: [{ name: "self", loopRef: "rev-loop" }] } });
    rt.model.setScript("rev-loop", { steps: [{ text: "child" }] });
    rt.model.setScript("chatty", { steps: [{ toolUses: [{ name: "self", input: {} }] }] });
    const result = await rt.executor.run("chatty", "loop forever", { identity: operator });
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("max_turns_exceeded");
    expect(result.trace.turns).toBe(2);
  });

  it("times out a frame whose model never answers", async () => {
    await rt.registry.register({ id: "sleepy", type: "llm", realm: "clinic", limits: { timeoutMs: 300 }, llm: { model: "m" } });
    rt.model.setScript("sleepy", { steps: [{ hang: true }] });
    const t0 = Date.now();
    const result = await rt.executor.run("sleepy", "hi", { identity: operator });
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("frame_timeout");
  });

  it("times out a frame whose HTTP server never answers", async () => {
    await rt.registry.register({ id: "slow-http", type: "http", realm: "clinic", limits: { timeoutMs: 300 }, http: { method: "GET", url: `${httpUrl}/hang` } });
    const result = await rt.executor.run("slow-http", {}, { identity: operator });
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("frame_timeout");
  });

  it("cancels a run and every running frame in it", async () => {
    await rt.registry.register({ id: "waits", type: "llm", realm: "clinic", llm: { model: "m" } });
    rt.model.setScript("waits", { steps: [{ hang: true }] });
    const controller = new AbortController();
    const started = await rt.executor.start("waits", "hi", { identity: operator, signal: controller.signal });
    await new Promise((r) => setTimeout(r, 150));
    controller.abort();
    const result = await started.done;
    expect(result.status).toBe("cancelled");
    expect(result.trace.status).toBe("cancelled");
  });

  it("cancels a run whose cancellation comes while a frame is being set up, wherever it lands", async () => {
    // The authorizer cancels the run a few microtasks after it has allowed the child: somewhere
    // between the frame's last look at its parent's signal and its dispatch.
    let cancelSoon: (() => void) | null = null;
    const own = await createTestRuntime(kind, {
      authorizer: {
        async authorize(request) {
          if (request.loopId === "setup-leaf" && cancelSoon) queueMicrotask(cancelSoon);
          return { allowed: true, action: request.action, realm: request.realm, role: "operator", via: "test", reason: "test", checkedAt: new Date().toISOString() };
        },
      },
    });
    try {
      await own.registry.registerMany([
        { id: "setup-leaf", type: "llm", realm: "clinic", llm: { model: "m" } },
        { id: "setup-parent", type: "llm", realm: "clinic", llm: { model: "m", tools: [{ name: "leaf", loopRef: "setup-leaf" }] } },
      ]);
      own.model.setScript("setup-parent", { steps: [{ toolUses: [{ name: "leaf", input: {} }] }, { text: "parent done" }] });
      own.model.setScript("setup-leaf", () => ({ text: "too late", latencyMs: 2_000 }));
      for (let hops = 0; hops <= 12; hops++) {
        own.model.reset();
        let runId = "";
        cancelSoon = () => {
          let left = hops;
          const step = () => (left-- > 0 ? queueMicrotask(step) : own.executor.cancel(runId));
          step();
        };
        const started = await own.executor.start("setup-parent", "go", { identity: operator });
        runId = started.runId;
        const result = await started.done;
        cancelSoon = null;
        expect(result.status, `cancelled ${hops} microtasks after the child was authorized`).toBe("cancelled");
        const leaf = find(result.trace, "setup-leaf")[0];
        expect(leaf === undefined || leaf.status === "cancelled", `the child, cancelled ${hops} microtasks after it was authorized`).toBe(true);
      }
      // A run cancelled as soon as it has started never reaches the model.
      for (let i = 0; i < 10; i++) {
        own.model.reset();
        const started = await own.executor.start("setup-leaf", "go", { identity: operator });
        expect(own.executor.cancel(started.runId)).toBe(true);
        expect((await started.done).status).toBe("cancelled");
        expect(own.model.requests).toHaveLength(0);
      }
    } finally {
      await own.closeAll();
    }
  });

  it("ends an MCP tool call in flight when its frame times out, instead of leaving it open", async () => {
    await rt.registry.register({
      id: "waits-on-tool",
      type: "llm",
      realm: "clinic",
      limits: { timeoutMs: 1_000 },
      llm: { model: "m", tools: [{ name: "work", mcp: { server: everythingStdioServer(), tool: "trigger-long-running-operation" } }] },
    });
    rt.model.setScript("waits-on-tool", { steps: [{ toolUses: [{ name: "work", input: { duration: 30, steps: 1 } }] }, { text: "never" }] });
    const result = await rt.executor.run("waits-on-tool", "go", { identity: operator });
    expect(result.error?.code).toBe("frame_timeout");
    const stored = async () => (await rt.store.getTrace(result.runId))?.toolCalls[0];
    await expect.poll(async () => (await stored())?.endedAt ?? null, { timeout: 2_000 }).not.toBeNull();
    expect(await stored()).toMatchObject({ name: "work", kind: "mcp", isError: true, output: { error: { code: "frame_timeout" } } });
  });

  it("shows a frame while it runs", async () => {
    await rt.registry.register({ id: "visible", type: "llm", realm: "clinic", llm: { model: "m" } });
    rt.model.setScript("visible", { steps: [{ text: "done", latencyMs: 600 }] });
    const started = await rt.executor.start("visible", "hi", { identity: operator });
    await new Promise((r) => setTimeout(r, 250));
    const live = await rt.store.getTrace(started.runId);
    expect(live?.status).toBe("running");
    expect(live?.endedAt).toBeNull();
    expect((await started.done).status).toBe("succeeded");
  });

  it("saves a turn while the conversation goes on: it is stored before the next answer comes", async () => {
    await rt.registry.register({ id: "two-turns", type: "llm", realm: "clinic", llm: { model: "m", tools: [{ name: "search", loopRef: "leaf-http" }] } });
    rt.model.setScript("two-turns", { steps: [{ toolUses: [{ name: "search", input: { q: "afib" } }] }, { text: "done", latencyMs: 600 }] });
    const started = await rt.executor.start("two-turns", "hi", { identity: operator });
    await new Promise((r) => setTimeout(r, 300));
    const live = await rt.store.getTrace(started.runId);
    expect(live?.status).toBe("running");
    const saved = await listConversationTurns(rt.database.db, live!.id);
    expect(saved.map((t) => [t.turn, t.stopReason, t.messages.length])).toEqual([[1, "tool_use", 2]]);
    expect((await started.done).status).toBe("succeeded");
  });

  it("records a denied child frame, audits it, and returns an error to the parent", async () => {
    await rt.registry.register({ id: "secret-leaf", type: "http", realm: "oncology", http: { method: "GET", url: `${httpUrl}/x` } });
    await rt.registry.register({ id: "crosser", type: "llm", realm: "clinic", llm: { model: "m", tools: [{ name: "peek", loopRef: "secret-leaf" }] } });
    rt.model.setScript("crosser", { steps: [{ toolUses: [{ name: "peek", input: {} }] }, { text: "could not peek" }] });
    const before = httpSeen.length;
    const result = await rt.executor.run("crosser", "hi", { identity: operator });
    expect(result.status).toBe("succeeded");
    const denied = result.trace.children[0]!;
    expect(denied).toMatchObject({ status: "denied", loop: { id: "secret-leaf", realm: "oncology" }, authorization: { allowed: false, realm: "oncology" }, identity: { subject: "alice" } });
    expect(denied.startedAt).toBeNull();
    expect(httpSeen.length).toBe(before);
    expect(result.trace.toolCalls[0]).toMatchObject({ isError: true, childFrameId: denied.id });
    const chain = await verifyAuditChain(rt.database.db);
    expect(chain.ok).toBe(true);
  });

  it("does not start a run it could not audit, and leaves no row of it", async () => {
    await rt.registry.register({ id: "unaudited", type: "llm", realm: "clinic", llm: { model: "m" } });
    rt.model.setScript("unaudited", { steps: [{ text: "should not be asked" }] });
    const asked = rt.model.requests.length;
    // The audit log refuses the event inside the database, after the run's row was inserted.
    await rt.database.db.execute(sql`create function refuse_audit() returns trigger language plpgsql as $$ begin raise exception 'audit log unavailable'; end $$`);
    await rt.database.db.execute(sql`create trigger refuse_audit before insert on audit_events for each row execute function refuse_audit()`);
    try {
      await expect(rt.executor.run("unaudited", "hi", { identity: operator })).rejects.toMatchObject({ cause: { message: expect.stringContaining("audit log unavailable") } });
    } finally {
      await rt.database.db.execute(sql`drop trigger refuse_audit on audit_events`);
      await rt.database.db.execute(sql`drop function refuse_audit()`);
    }
    expect(await listRuns(rt.database.db, { scope: "all", loopId: "unaudited" })).toEqual([]);
    expect(rt.model.requests.length).toBe(asked);
    // Once the log accepts events again, the loop runs.
    const result = await rt.executor.run("unaudited", "hi", { identity: operator });
    expect(result.status).toBe("succeeded");
    const [run] = await listRuns(rt.database.db, { scope: "all", loopId: "unaudited" });
    expect(run).toMatchObject({ id: result.runId, status: "succeeded" });
  });

  it("keeps a secret out of the trace when an MCP tool's server fails while its tools are listed", async () => {
    const secret = "tok-77c1-listing-secret";
    await rt.registry.register({
      id: "lists-tools",
      type: "llm",
      realm: "clinic",
      llm: {
        model: "m",
        tools: [
          {
            name: "lookup",
            mcp: {
              server: {
                transport: "stdio",
                command: process.execPath,
                args: ["-e", "console.error('rejected token ' + process.env.API_TOKEN); process.exit(1)"],
                env: { API_TOKEN: { secret: "LISTING_TOKEN" } },
              },
              tool: "lookup",
            },
          },
        ],
      },
    });
    const withSecrets = createRuntime({
      store: rt.store,
      model: createAnthropicModelClient({ apiKey: "test-key", baseURL: rt.model.url }),
      mcp: createMcpClientFactory(),
      secrets: { resolve: (name, realm) => (name === "LISTING_TOKEN" && realm === "clinic" ? secret : undefined) },
    });
    try {
      const result = await withSecrets.executor.run("lists-tools", "hi", { identity: operator });
      expect(result.status).toBe("failed");
      expect(result.error?.message).toContain("rejected token [redacted]");
      expect(JSON.stringify(result)).not.toContain(secret);
      expect(JSON.stringify(await rt.store.getTrace(result.runId))).not.toContain(secret);
    } finally {
      await withSecrets.close();
    }
  });

  it("stops calling the model while the database is away, instead of going on with nothing recorded", async () => {
    await rt.registry.registerMany([
      { id: "chatty-leaf", type: "http", realm: "clinic", http: { method: "GET", url: `${httpUrl}/cases?q={{input.q}}` } },
      { id: "chatty", type: "llm", realm: "clinic", llm: { model: "m", maxTurns: 40, tools: [{ name: "search", loopRef: "chatty-leaf" }] } },
    ]);
    rt.model.setScript("chatty", () => ({ toolUses: [{ name: "search", input: { q: "again" } }], latencyMs: 100 }));
    const offline = createRuntime({
      store: { ...rt.store, writeTraceBatch: async () => Promise.reject(new Error("database unavailable")) },
      model: createAnthropicModelClient({ apiKey: "test-key", baseURL: rt.model.url }),
      mcp: createMcpClientFactory(),
    });
    const before = rt.model.requests.length;
    try {
      await expect(offline.executor.run("chatty", "hi", { identity: operator })).rejects.toThrow("database unavailable");
    } finally {
      await offline.close();
    }
    // The writer gives up after about a second of failed writes; at 100 ms a turn, far fewer than 40 turns were asked.
    const asked = rt.model.requests.length - before;
    expect(asked).toBeGreaterThan(0);
    expect(asked).toBeLessThan(30);
  }, 20_000);

  it("denies the root frame of a caller without a role, and a viewer", async () => {
    const viewer = await rt.grant("clinic", "viewer", "vera");
    const nobody: Identity = { subject: "mallory", groups: ["cn=strangers,dc=test"], kind: "user", source: "test" };
    for (const identity of [viewer, nobody]) {
      const result = await rt.executor.run("rev-loop", "hi", { identity });
      expect(result.status).toBe("denied");
      expect(result.trace.authorization.allowed).toBe(false);
    }
  });

  it("rejects malformed and oversized input before anything runs", async () => {
    const invalid = await rt.executor.run("middle", { q: 42 }, { identity: operator }).catch((e: unknown) => e);
    expect(isAppError(invalid, "invalid_input")).toBe(true);
    expect((invalid as { issues: { path: string }[] }).issues[0]!.path).toBe("q");
    const huge = await rt.executor.run("rev-loop", "x".repeat(2 * 1024 * 1024), { identity: operator }).catch((e: unknown) => e);
    expect(isAppError(huge, "payload_too_large")).toBe(true);
    const missing = await rt.executor.run("nope", {}, { identity: operator }).catch((e: unknown) => e);
    expect(isAppError(missing, "not_found")).toBe(true);
    for (const unserialisable of [() => "a function", Symbol("s"), { n: 1n }]) {
      const refused = await rt.executor.run("rev-loop", unserialisable, { identity: operator }).catch((e: unknown) => e);
      expect(isAppError(refused, "invalid_input")).toBe(true);
    }
    // Too deep to copy between threads or to write as JSON: refused, not run (nor a stack overflow).
    const runsBefore = (await listRuns(rt.database.db, { scope: "all", loopId: "rev-loop", limit: 1_000 })).length;
    for (const depth of [2_000, 10_000]) {
      let deep: unknown = 1;
      for (let i = 0; i < depth; i++) deep = { a: deep };
      const refused = await rt.executor.run("rev-loop", deep, { identity: operator }).catch((e: unknown) => e);
      expect(isAppError(refused, "invalid_input")).toBe(true);
      expect((refused as Error).message).toMatch(/more than 100 levels deep/);
    }
    expect(await listRuns(rt.database.db, { scope: "all", loopId: "rev-loop", limit: 1_000 })).toHaveLength(runsBefore);
  });

  it("runs every frame of a loop at the revision the run first resolved, while new runs get the new one", async () => {
    const leaf = (description: string) => ({ id: "pinned-leaf", type: "http", realm: "clinic", description, http: { method: "GET", url: `${httpUrl}/pinned?q=x` } }) as const;
    await rt.registry.register(leaf("first"));
    await rt.registry.register({ id: "pinning", type: "llm", realm: "clinic", llm: { model: "m", tools: [{ name: "leaf", loopRef: "pinned-leaf" }] } });
    let revised = false;
    rt.model.setScript("pinning", async (_request, ctx) => {
      if (ctx.turn === 1 && !revised) {
        revised = true;
        await rt.registry.register(leaf("second"));
      }
      return ctx.turn < 2 ? { toolUses: [{ name: "leaf", input: {} }] } : { text: "done" };
    });
    const first = await rt.executor.run("pinning", "go", { identity: operator });
    expect(first.status).toBe("succeeded");
    expect(first.trace.children.map((c) => c.loop.revision)).toEqual([1, 1]);
    const second = await rt.executor.run("pinning", "go", { identity: operator });
    expect(second.trace.children.map((c) => c.loop.revision)).toEqual([2, 2]);
  });

  it("runs MCP loops over stdio and Streamable HTTP against server-everything", async () => {
    const http = await startEverythingHttpServer();
    try {
      await rt.registry.register({ id: "sum-stdio", type: "mcp", realm: "clinic", mcp: { server: everythingStdioServer(), tool: "get-sum" } });
      await rt.registry.register({ id: "echo-http", type: "mcp", realm: "clinic", mcp: { server: { transport: "http", url: http.url }, tool: "echo" } });
      const sum = await rt.executor.run("sum-stdio", { a: 2, b: 40 }, { identity: operator });
      expect(sum.status).toBe("succeeded");
      expect(JSON.stringify(sum.output)).toContain("42");
      const echo = await rt.executor.run("echo-http", { message: "over http" }, { identity: operator });
      expect(echo.status).toBe("succeeded");
      expect(JSON.stringify(echo.output)).toContain("over http");
    } finally {
      await http.close();
    }
  });
});
