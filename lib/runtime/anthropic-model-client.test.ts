import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createScriptedModelServer, type ScriptedModelServer } from "@/lib/scripted-model";
import { createAnthropicModelClient } from "./anthropic-model-client";
import { DispatchError } from "./retry";
import type { ModelCallOptions, ModelClient, ModelRequest } from "./types";

const API_KEY = "sk-test-do-not-leak";
const request: ModelRequest = {
  model: "claude-sonnet-5-5",
  max_tokens: 128,
  system: "You are terse.",
  messages: [{ role: "user", content: "Hello" }],
};

let server: ScriptedModelServer;
let client: ModelClient;

function callOptions(loopId: string, overrides: Partial<ModelCallOptions> = {}): ModelCallOptions {
  return {
    signal: new AbortController().signal,
    timeoutMs: 5_000,
    headers: { "x-loopstacks-loop-id": loopId, "x-loopstacks-frame-id": `frame-${loopId}` },
    ...overrides,
  };
}

async function failure(loopId: string, overrides: Partial<ModelCallOptions> = {}): Promise<DispatchError> {
  const error: unknown = await client.createMessage(request, callOptions(loopId, overrides)).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DispatchError);
  expect((error as DispatchError).message).not.toContain(API_KEY);
  return error as DispatchError;
}

beforeAll(async () => {
  server = createScriptedModelServer({
    scripts: {
      ok: { steps: [{ text: "Hi there" }] },
      limited: { steps: [{ error: { status: 429, message: "Slow down", retryAfterSeconds: 3 } }] },
      overloaded: { steps: [{ error: { status: 529 } }] },
      broken: { steps: [{ error: { status: 500, message: "Internal failure" } }] },
      refused: { steps: [{ error: { status: 400, message: "messages: bad shape" } }] },
      stuck: { steps: [{ hang: true }] },
      garbled: { steps: [{ malformed: "not-json" }] },
      stalled: { steps: [{ broken: "stall-after-headers" }] },
      cut: { steps: [{ broken: "cut-mid-body" }] },
    },
  });
  await server.start();
  client = createAnthropicModelClient({ apiKey: API_KEY, baseURL: server.url });
});

afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  server.reset();
});

describe("anthropic model client", () => {
  it("returns the raw message of a successful call", async () => {
    const message = await client.createMessage(request, callOptions("ok"));
    expect(message).toMatchObject({
      type: "message",
      role: "assistant",
      model: "claude-sonnet-5-5",
      content: [{ type: "text", text: "Hi there" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: expect.any(Number) as number, output_tokens: expect.any(Number) as number },
    });
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.body).toEqual(request);
  });

  it("sends the caller's headers, so the server sees the loop and frame", async () => {
    await client.createMessage(request, callOptions("ok"));
    expect(server.requests[0]).toMatchObject({ loopId: "ok", frameId: "frame-ok", hasCredentials: true });
  });

  it("accepts a deadline's fractional remainder as the timeout", async () => {
    await expect(client.createMessage(request, callOptions("ok", { timeoutMs: 1234.5 }))).resolves.toMatchObject({ type: "message" });
  });

  it("makes a single attempt per call: retries belong to the runtime", async () => {
    await failure("limited");
    expect(server.requests).toHaveLength(1);
  });

  it.each([
    ["limited", 429, "rate_limited", "Slow down"],
    ["overloaded", 529, "overloaded", "[scripted model] overloaded_error"],
    ["broken", 500, "model_server_error", "Internal failure"],
  ])("maps a %s answer to a retryable DispatchError", async (loopId, status, code, message) => {
    const error = await failure(loopId);
    expect(error).toMatchObject({ code, status, retryable: true, message });
    // The scripted server asks a 429's caller to wait (retry-after: 3), and no one else.
    expect(error.retryAfterMs).toBe(loopId === "limited" ? 3_000 : undefined);
  });

  it("maps a 400 to a non-retryable error", async () => {
    const error = await failure("refused");
    expect(error).toMatchObject({ code: "model_bad_request", status: 400, retryable: false, message: "messages: bad shape" });
    expect(error.details).toMatchObject({ type: "invalid_request_error", requestId: expect.stringMatching(/^req_/) as string });
  });

  it("maps a missing API key to a non-retryable 401 without looking for ambient credentials", async () => {
    const anonymous = createAnthropicModelClient({ baseURL: server.url });
    const error: unknown = await anonymous.createMessage(request, callOptions("ok")).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "model_bad_request", status: 401, retryable: false });
    expect(server.requests[0]?.hasCredentials).toBe(false);
  });

  it("gives up on a hanging server after timeoutMs with a retryable model_timeout", async () => {
    const t0 = performance.now();
    const error = await failure("stuck", { timeoutMs: 200 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(200);
    expect(error).toMatchObject({ code: "model_timeout", retryable: true, status: undefined });
  });

  it("gives up after timeoutMs on a server that sends its headers and never its body", async () => {
    const t0 = performance.now();
    const error = await failure("stalled", { timeoutMs: 300 });
    expect(performance.now() - t0).toBeLessThan(3_000);
    expect(error).toMatchObject({ code: "model_timeout", retryable: true });
  });

  it("reports an answer cut off by the connection as a retryable connection error", async () => {
    const error = await failure("cut");
    expect(error).toMatchObject({ code: "model_connection_error", retryable: true });
    expect(error.message).toMatch(/closed before its answer ended/);
  });

  it("rethrows the caller's abort instead of classifying it", async () => {
    const controller = new AbortController();
    const pending = client.createMessage(request, callOptions("stuck", { signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    const error: unknown = await pending.catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(DispatchError);
    expect(error).toBe(controller.signal.reason);
    expect((error as Error).name).toBe("AbortError");
  });

  it("reports an unreachable server as a retryable connection error", async () => {
    const down = createScriptedModelServer();
    const { url } = await down.start();
    await down.close();
    const unreachable = createAnthropicModelClient({ apiKey: API_KEY, baseURL: url });
    const error: unknown = await unreachable.createMessage(request, callOptions("ok")).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "model_connection_error", retryable: true });
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
  });

  it("reports a body that is not JSON as an invalid response", async () => {
    const error = await failure("garbled");
    expect(error).toMatchObject({ code: "model_response_invalid", retryable: false });
  });
});
