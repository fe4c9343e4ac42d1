import Anthropic, { AuthenticationError, BadRequestError, InternalServerError, OverloadedError, RateLimitError } from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createScriptedModelServer, type ScriptedModelServer } from "./index";

const MODEL = "claude-sonnet-5-5";
const weatherTool = {
  name: "get_weather",
  description: "Current weather for a city",
  input_schema: {
    type: "object" as const,
    properties: { city: { type: "string" }, days: { type: "integer" } },
    required: ["city", "days"],
  },
};
const searchTool = { name: "search", input_schema: { type: "object" as const, properties: {} } };

let server: ScriptedModelServer;
let client: Anthropic;

function clientFor(loopId: string, frameId?: string, options: { timeout?: number } = {}): Anthropic {
  return new Anthropic({
    apiKey: "test-key",
    baseURL: server.url,
    maxRetries: 0,
    defaultHeaders: { "x-loopstacks-loop-id": loopId, ...(frameId ? { "x-loopstacks-frame-id": frameId } : {}) },
    ...options,
  });
}

function ask(text: string, extra: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}): Anthropic.MessageCreateParamsNonStreaming {
  return { model: MODEL, max_tokens: 256, messages: [{ role: "user", content: text }], ...extra };
}

beforeAll(async () => {
  server = createScriptedModelServer();
  await server.start();
  client = clientFor("plain");
});

afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  server.clearScripts();
  server.reset();
  server.setLatency(0);
});

describe("scripted model server", () => {
  it("answers a plain text reply in the real message shape", async () => {
    server.setScript("plain", { steps: [{ text: "Hello from the script" }] });
    const message = await client.messages.create(ask("Say hello"));
    expect(message.id).toMatch(/^msg_[A-Za-z0-9]{24}$/);
    expect(message).toMatchObject({
      type: "message",
      role: "assistant",
      model: MODEL,
      content: [{ type: "text", text: "Hello from the script" }],
      stop_reason: "end_turn",
      stop_sequence: null,
    });
    expect(message.usage.input_tokens).toBe(Math.ceil(JSON.stringify([{ role: "user", content: "Say hello" }]).length / 4));
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(message._request_id).toMatch(/^req_/);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({ loopId: "plain", frameId: null, path: "/v1/messages", hasCredentials: true });
    expect(server.requests[0]?.headers).not.toHaveProperty("authorization");
  });

  it("answers several tool_use blocks in one turn", async () => {
    server.setScript("plain", {
      steps: [
        {
          text: "Checking both.",
          toolUses: [
            { name: "get_weather", input: { city: "Oslo", days: 2 } },
            { name: "search", input: { query: "fjords" } },
          ],
        },
      ],
    });
    const message = await client.messages.create(ask("Weather and fjords?", { tools: [weatherTool, searchTool] }));
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content.map((b) => b.type)).toEqual(["text", "tool_use", "tool_use"]);
    const uses = message.content.filter((b) => b.type === "tool_use");
    expect(uses.map((u) => [u.name, u.input])).toEqual([
      ["get_weather", { city: "Oslo", days: 2 }],
      ["search", { query: "fjords" }],
    ]);
    expect(uses[0]?.id).toMatch(/^toolu_[A-Za-z0-9]{24}$/);
    expect(uses[0]?.id).not.toBe(uses[1]?.id);
  });

  it("consumes steps in order per frame id and repeats the last", async () => {
    server.setScript("multi", { steps: [{ text: "one" }, { text: "two" }] });
    const frameA = clientFor("multi", "frame-a");
    const frameB = clientFor("multi", "frame-b");
    const text = async (c: Anthropic) => {
      const block = (await c.messages.create(ask("go"))).content[0];
      return block?.type === "text" ? block.text : null;
    };
    expect(await text(frameA)).toBe("one");
    expect(await text(frameB)).toBe("one");
    expect(await text(frameA)).toBe("two");
    expect(await text(frameA)).toBe("two");
    expect(server.requests.map((r) => r.frameId)).toEqual(["frame-a", "frame-b", "frame-a", "frame-a"]);
  });

  it("answers 429 as the SDK's RateLimitError, then succeeds on the retry", async () => {
    server.setScript("plain", { steps: [{ error: { status: 429, retryAfterSeconds: 7 } }, { text: "ok" }] });
    const error = await client.messages.create(ask("hi")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    const rateLimit = error as RateLimitError;
    expect(rateLimit.status).toBe(429);
    expect(rateLimit.headers.get("retry-after")).toBe("7");
    expect(rateLimit.type).toBe("rate_limit_error");
    expect(rateLimit.requestID).toMatch(/^req_/);
    expect(rateLimit.error).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    const retry = await client.messages.create(ask("hi"));
    expect(retry.content).toEqual([{ type: "text", text: "ok" }]);
  });

  it("answers 500 and 529 with the real error types", async () => {
    server.setScript("plain", { steps: [{ error: { status: 500, message: "boom" } }, { error: { status: 529 } }] });
    const serverError = await client.messages.create(ask("hi")).catch((e: unknown) => e);
    expect(serverError).toBeInstanceOf(InternalServerError);
    expect(serverError).toMatchObject({ status: 500, type: "api_error", apiMessage: "boom" });
    const overloaded = await client.messages.create(ask("hi")).catch((e: unknown) => e);
    expect(overloaded).toBeInstanceOf(OverloadedError);
    expect(overloaded).toMatchObject({ status: 529, type: "overloaded_error" });
  });

  it("answers malformed bodies with status 200", async () => {
    server.setScript("plain", { steps: [{ malformed: "not-json" }, { malformed: "missing-content" }, { malformed: "bad-stop-reason" }] });
    await expect(client.messages.create(ask("hi"))).rejects.toBeInstanceOf(SyntaxError);
    const missing = await client.messages.create(ask("hi"));
    expect(missing).not.toHaveProperty("content");
    expect(missing.type).toBe("message");
    const badStop = await client.messages.create(ask("hi"));
    expect(["end_turn", "tool_use", "max_tokens", "stop_sequence", "pause_turn", "refusal"]).not.toContain(badStop.stop_reason);
  });

  it("rejects invalid requests with 400 invalid_request_error", async () => {
    const cases: [unknown, RegExp][] = [
      [{ model: MODEL, max_tokens: 0, messages: [{ role: "user", content: "x" }] }, /max_tokens/],
      [{ max_tokens: 10, messages: [{ role: "user", content: "x" }] }, /model/],
      [{ model: MODEL, max_tokens: 10, messages: [] }, /at least one message/],
      [{ model: MODEL, max_tokens: 10, messages: [{ role: "assistant", content: "x" }] }, /first message/],
      [
        {
          model: MODEL,
          max_tokens: 10,
          messages: [
            { role: "user", content: "a" },
            { role: "user", content: "b" },
          ],
        },
        /alternate/,
      ],
      [{ model: MODEL, max_tokens: 10, messages: [{ role: "user", content: 42 }] }, /content/],
      [
        {
          model: MODEL,
          max_tokens: 10,
          messages: [
            { role: "user", content: "x" },
            { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "search", input: {} }] },
            { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_2", content: "r" }] },
          ],
        },
        /tool_use_id/,
      ],
    ];
    for (const [body, message] of cases) {
      const error = await client.messages.create(body as Anthropic.MessageCreateParamsNonStreaming).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BadRequestError);
      expect((error as BadRequestError).type).toBe("invalid_request_error");
      expect((error as BadRequestError).apiMessage).toMatch(message);
    }
  });

  it("refuses requests without credentials with 401", async () => {
    const anonymous = new Anthropic({
      apiKey: null,
      authToken: null,
      baseURL: server.url,
      maxRetries: 0,
      defaultHeaders: { authorization: null },
    });
    const error = await anonymous.messages.create(ask("hi")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ status: 401, type: "authentication_error" });
    expect(server.requests[0]?.hasCredentials).toBe(false);
  });

  it("streams text and tool_use with the same final message as a plain call", async () => {
    const steps = [
      { text: "A streamed answer that is long enough to arrive in several chunks." },
      {
        text: "Calling.",
        toolUses: [{ id: "toolu_fixed", name: "get_weather", input: { city: "Bergen", days: 3, nested: { a: [1, 2] } } }],
      },
    ];
    for (const step of steps) {
      server.setScript("plain", { steps: [step] });
      const plain = await client.messages.create(ask("stream please", { tools: [weatherTool] }));
      const stream = client.messages.stream(ask("stream please", { tools: [weatherTool] }));
      const kinds: string[] = [];
      stream.on("streamEvent", (event) => kinds.push(event.type));
      const streamed = await stream.finalMessage();
      expect(wireFields(streamed)).toEqual(wireFields(plain));
      expect(kinds[0]).toBe("message_start");
      expect(kinds.at(-1)).toBe("message_stop");
      expect(kinds.filter((k) => k === "content_block_delta").length).toBeGreaterThanOrEqual(3);
    }
    expect(server.requests.at(-1)?.body).toMatchObject({ stream: true });
  });

  it("honours global, script and step latency", async () => {
    server.setLatency(150);
    let t0 = performance.now();
    await client.messages.create(ask("slow"));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(150);

    server.setScript("plain", { latencyMs: 250, steps: [{ text: "script" }, { text: "step", latencyMs: 50 }] });
    t0 = performance.now();
    await client.messages.create(ask("slow"));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    t0 = performance.now();
    await client.messages.create(ask("slow"));
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(50);
    expect(elapsed).toBeLessThan(240);
  });

  it("hangs until the client times out, and close() still returns promptly", async () => {
    const own = createScriptedModelServer({ scripts: { stuck: { steps: [{ hang: true }] } } });
    await own.start();
    const base = { apiKey: "k", baseURL: own.url, maxRetries: 0, defaultHeaders: { "x-loopstacks-loop-id": "stuck" } };
    const t0 = performance.now();
    const error = await new Anthropic({ ...base, timeout: 200 }).messages.create(ask("wait")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.APIConnectionTimeoutError);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(200);

    const pending = new Anthropic(base).messages.create(ask("wait forever")).catch((e: unknown) => e);
    await waitFor(() => own.requests.length === 2);
    const t1 = performance.now();
    await own.close();
    expect(performance.now() - t1).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Anthropic.APIConnectionError);
  });

  it("auto script calls every offered tool, then ends the turn with a digest of the results", async () => {
    const auto = clientFor("any-loop", "frame-auto");
    const first = await auto.messages.create(ask("What about Trondheim?", { system: "You help.", tools: [weatherTool, searchTool] }));
    expect(first.stop_reason).toBe("tool_use");
    const uses = first.content.filter((b) => b.type === "tool_use");
    expect(uses.map((u) => [u.name, u.input])).toEqual([
      ["get_weather", { city: "What about Trondheim?", days: 1 }],
      ["search", { query: "What about Trondheim?" }],
    ]);

    const second = await auto.messages.create(
      ask("", {
        system: "You help.",
        tools: [weatherTool, searchTool],
        messages: [
          { role: "user", content: "What about Trondheim?" },
          { role: "assistant", content: first.content },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: uses[0]!.id, content: "Rain, 9°C" },
              { type: "tool_result", tool_use_id: uses[1]!.id, content: "x".repeat(500), is_error: true },
            ],
          },
        ],
      }),
    );
    expect(second.stop_reason).toBe("end_turn");
    expect(second.content).toEqual([
      { type: "text", text: `[scripted model] ${MODEL} answered turn 2\n- get_weather: Rain, 9°C\n- search (error): ${"x".repeat(200)}` },
    ]);
  });

  it("auto script answers plainly when no tools are offered", async () => {
    const message = await clientFor("no-tools").messages.create(ask("Hello"));
    expect(message.content).toEqual([{ type: "text", text: `[scripted model] ${MODEL} answered turn 1` }]);
  });

  it("passes the request and conversation context to a script function", async () => {
    const seen: unknown[] = [];
    server.setScript("fn", (request, context) => {
      seen.push({ model: request.model, ...context });
      return { text: `call ${context.callIndex}` };
    });
    const fn = clientFor("fn", "frame-fn");
    await fn.messages.create(ask("a"));
    await fn.messages.create(ask("a"));
    expect(seen).toEqual([
      { model: MODEL, loopId: "fn", frameId: "frame-fn", callIndex: 0, turn: 0 },
      { model: MODEL, loopId: "fn", frameId: "frame-fn", callIndex: 1, turn: 0 },
    ]);
  });
});

function wireFields({ type, role, model, content, stop_reason, stop_sequence, usage }: Anthropic.Message) {
  return { type, role, model, content, stop_reason, stop_sequence, usage };
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
