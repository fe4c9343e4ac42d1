import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { everythingStdioServer, startEverythingHttpServer, type EverythingHttpServer } from "../../../test/mcp-servers";
import { parseAddressList } from "../../address-list.mjs";
import { createLoopFetch, defaultHttpClient } from "../http-client";
import { parseLoopDefinition, type McpLoopDefinition, type McpServerConfig } from "../definition";
import type { DispatchContext } from "../dispatch";
import { createMcpClientFactory, type PooledMcpClientFactory } from "../mcp/client-factory";
import { DispatchError } from "../retry";
import type { Attempt } from "../types";
import { dispatchMcp, mcpResultToOutput, resolveMcpServer } from "./mcp";

const SECRET = "tok-3f9a-very-secret";

let factory: PooledMcpClientFactory;
let httpServer: EverythingHttpServer;

beforeAll(async () => {
  factory = createMcpClientFactory();
  httpServer = await startEverythingHttpServer();
});

afterAll(async () => {
  await factory?.close();
  await httpServer?.close();
});

function loop(server: McpServerConfig, tool: string, overrides: { timeoutMs?: number; maxAttempts?: number } = {}): McpLoopDefinition {
  const definition = parseLoopDefinition({
    id: "mcp-test",
    realm: "test",
    type: "mcp",
    mcp: { server, tool, ...(overrides.timeoutMs !== undefined ? { timeoutMs: overrides.timeoutMs } : {}) },
    retry: { maxAttempts: overrides.maxAttempts ?? 3, initialDelayMs: 5, maxDelayMs: 20, multiplier: 2 },
  });
  if (definition.type !== "mcp") throw new Error("expected an MCP loop");
  return definition;
}

function context(secrets: Record<string, string> = {}, signal = new AbortController().signal) {
  const attempts: Attempt[] = [];
  const ctx: DispatchContext = {
    frameId: "frame-1",
    runId: "run-1",
    realm: "test",
    signal,
    clock: { now: () => new Date() },
    http: defaultHttpClient,
    secrets: { resolve: (name) => secrets[name] },
    mcp: factory,
    recordAttempt: (attempt) => attempts.push(attempt),
  };
  return { ctx, attempts };
}

async function rejection(promise: Promise<unknown>): Promise<DispatchError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DispatchError) return error;
    throw error;
  }
  throw new Error("expected the dispatch to fail");
}

describe.each([
  ["stdio", (): McpServerConfig => everythingStdioServer()],
  ["Streamable HTTP", (): McpServerConfig => ({ transport: "http", url: httpServer.url, headers: { authorization: { secret: "MCP_TOKEN" } } })],
])("dispatchMcp over %s", (_name, server) => {
  it("passes the input as the tool's arguments and returns its text", async () => {
    const { ctx, attempts } = context({ MCP_TOKEN: `Bearer ${SECRET}` });
    const echo = await dispatchMcp(loop(server(), "echo"), { message: "hello" }, ctx);
    expect(echo.output).toBe("Echo: hello");
    const sum = await dispatchMcp(loop(server(), "get-sum"), { a: 19, b: 23 }, ctx);
    expect(sum.output).toBe("The sum of 19 and 23 is 42.");
    expect(attempts.map((attempt) => attempt.ok)).toEqual([true, true]);
  });

  it("returns structured content as the output", async () => {
    const { ctx } = context({ MCP_TOKEN: `Bearer ${SECRET}` });
    const { output } = await dispatchMcp(loop(server(), "get-structured-content"), { location: "New York" }, ctx);
    expect(output).toEqual({ temperature: 33, conditions: "Cloudy", humidity: 82 });
  });

  it("fails an unknown tool once, without retrying", async () => {
    const { ctx, attempts } = context({ MCP_TOKEN: `Bearer ${SECRET}` });
    const error = await rejection(dispatchMcp(loop(server(), "no-such-tool"), {}, ctx));
    expect(error).toMatchObject({ code: "mcp_protocol_error", retryable: false });
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ ok: false, error: { code: "mcp_protocol_error" } });
  });

  it("honours cancellation through the context's signal", async () => {
    const controller = new AbortController();
    const { ctx, attempts } = context({ MCP_TOKEN: `Bearer ${SECRET}` }, controller.signal);
    const started = Date.now();
    setTimeout(() => controller.abort(), 150);
    const error = await rejection(dispatchMcp(loop(server(), "trigger-long-running-operation"), { duration: 5, steps: 5 }, ctx));
    expect(error.code).toBe("cancelled");
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.error?.code).toBe("cancelled");
  });
});

describe("dispatchMcp failures", () => {
  it("fails the frame with the tool's own error text", async () => {
    const { ctx, attempts } = context();
    const error = await rejection(dispatchMcp(loop(everythingStdioServer(), "get-sum"), { a: "one", b: 2 }, ctx));
    expect(error).toMatchObject({ code: "tool_error", retryable: false });
    expect(error.message).toMatch(/validation/i);
    expect(error.details).toMatchObject({ content: [{ type: "text" }] });
    expect(attempts).toHaveLength(1);
  });

  it("retries a server that cannot be started, per the retry policy", async () => {
    const { ctx, attempts } = context();
    const server: McpServerConfig = { transport: "stdio", command: "/nonexistent/mcp-server", args: [], env: {} };
    const error = await rejection(dispatchMcp(loop(server, "echo", { maxAttempts: 3 }), {}, ctx));
    expect(error).toMatchObject({ code: "mcp_connection_error", retryable: true });
    expect(attempts).toHaveLength(3);
    expect(attempts.every((attempt) => !attempt.ok && attempt.error?.code === "mcp_connection_error")).toBe(true);
    expect(attempts.map((attempt) => attempt.delayMs !== undefined)).toEqual([true, true, false]);
  });

  it("retries a call that times out", async () => {
    const { ctx, attempts } = context();
    const error = await rejection(
      dispatchMcp(loop(everythingStdioServer(), "trigger-long-running-operation", { timeoutMs: 100, maxAttempts: 2 }), { duration: 1, steps: 1 }, ctx),
    );
    expect(error).toMatchObject({ code: "mcp_timeout", retryable: true });
    expect(attempts).toHaveLength(2);
  });

  it("names a missing secret without dispatching", async () => {
    const { ctx, attempts } = context({ OTHER: "x" });
    const server: McpServerConfig = { ...everythingStdioServer(), env: { API_TOKEN: { secret: "MCP_API_TOKEN" } } };
    const error = await rejection(dispatchMcp(loop(server, "echo"), { message: "x" }, ctx));
    expect(error).toMatchObject({ code: "secret_missing", retryable: false });
    expect(error.message).toContain("MCP_API_TOKEN");
    expect(attempts).toHaveLength(0);
  });

  it.each([[["a"]], ["text"], [null], [42]])("rejects %j as input: the arguments must be an object", async (input) => {
    const { ctx, attempts } = context();
    const error = await rejection(dispatchMcp(loop(everythingStdioServer(), "echo"), input, ctx));
    expect(error).toMatchObject({ code: "invalid_input", retryable: false });
    expect(attempts).toHaveLength(0);
  });
});

describe("secrets in MCP server config", () => {
  it("resolves env and header references", () => {
    const secrets = { resolve: (name: string, realm: string) => (realm === "test" ? { A: "alpha", B: "beta" }[name] : undefined) };
    expect(resolveMcpServer({ transport: "stdio", command: "srv", args: ["--x"], env: { PLAIN: "p", TOKEN: { secret: "A" } } }, secrets, "test")).toEqual({
      transport: "stdio",
      command: "srv",
      args: ["--x"],
      env: { PLAIN: "p", TOKEN: "alpha" },
    });
    expect(resolveMcpServer({ transport: "http", url: "http://127.0.0.1/mcp", headers: { authorization: { secret: "B" } } }, secrets, "test")).toEqual({
      transport: "http",
      url: "http://127.0.0.1/mcp",
      headers: { authorization: "beta" },
    });
    // A secret the frame's realm may not use is not resolved at all.
    expect(() => resolveMcpServer({ transport: "http", url: "http://127.0.0.1/mcp", headers: { authorization: { secret: "B" } } }, secrets, "other")).toThrow(
      'Secret "B" (MCP server headers "authorization") is not set for realm other',
    );
  });

  it("scrubs a resolved secret the server echoes back from the output", async () => {
    const { ctx, attempts } = context({ MCP_API_TOKEN: SECRET });
    const server: McpServerConfig = { ...everythingStdioServer(), env: { API_TOKEN: { secret: "MCP_API_TOKEN" } } };
    const { output } = await dispatchMcp(loop(server, "get-env"), {}, ctx);
    expect(typeof output).toBe("string");
    expect(output).toContain('"API_TOKEN": "[redacted]"');
    expect(JSON.stringify(output)).not.toContain(SECRET);
    expect(JSON.stringify(attempts)).not.toContain(SECRET);
  });

  it("scrubs a resolved secret from errors and attempts", async () => {
    const { ctx, attempts } = context({ MCP_API_TOKEN: SECRET });
    const server: McpServerConfig = {
      transport: "stdio",
      command: process.execPath,
      args: ["-e", "console.error('rejected token ' + process.env.API_TOKEN); process.exit(1)"],
      env: { API_TOKEN: { secret: "MCP_API_TOKEN" } },
    };
    const error = await rejection(dispatchMcp(loop(server, "echo", { maxAttempts: 2 }), {}, ctx));
    expect(error.code).toBe("mcp_connection_error");
    expect(error.message).toContain("rejected token [redacted]");
    expect(error.message).not.toContain(SECRET);
    expect(attempts).toHaveLength(2);
    expect(JSON.stringify(attempts)).not.toContain(SECRET);
  });
});

describe("MCP over HTTP on the terms HTTP loops have", () => {
  it("reaches a server through the loops' fetch, and never one at a blocked address", async () => {
    const server: McpServerConfig = { transport: "http", url: httpServer.url, headers: {} };
    const allowed = createMcpClientFactory({ fetch: createLoopFetch({ blockedAddresses: parseAddressList("10.0.0.0/8") }) });
    const blocked = createMcpClientFactory({ fetch: createLoopFetch({ blockedAddresses: parseAddressList("127.0.0.1") }) });
    try {
      const { ctx } = context();
      expect((await dispatchMcp(loop(server, "echo"), { message: "through the loops' fetch" }, { ...ctx, mcp: allowed })).output).toBe("Echo: through the loops' fetch");
      const error = await rejection(dispatchMcp(loop(server, "echo", { maxAttempts: 1 }), { message: "x" }, { ...ctx, mcp: blocked }));
      expect(error.code).toBe("mcp_connection_error");
      expect(error.message).toContain("127.0.0.1 is an address loops may not reach");
      // The metadata address is refused by default, before any connection is tried.
      const metadata = createMcpClientFactory({ fetch: createLoopFetch() });
      try {
        const refused = await rejection(dispatchMcp(loop({ transport: "http", url: "http://169.254.169.254/mcp", headers: {} }, "echo", { maxAttempts: 1 }), {}, { ...ctx, mcp: metadata }));
        expect(refused.message).toContain("169.254.169.254 is an address loops may not reach");
      } finally {
        await metadata.close();
      }
    } finally {
      await allowed.close();
      await blocked.close();
    }
  });
});

describe("mcpResultToOutput", () => {
  it("prefers structured content, then joined text, then the content blocks", () => {
    expect(mcpResultToOutput({ content: [{ type: "text", text: "x" }], structuredContent: { n: 1 } })).toEqual({ n: 1 });
    expect(
      mcpResultToOutput({
        content: [
          { type: "text", text: "one" },
          { type: "text", text: "two" },
        ],
      }),
    ).toBe("one\ntwo");
    const mixed = [
      { type: "text", text: "see image" },
      { type: "image", data: "aGk=", mimeType: "image/png" },
    ];
    expect(mcpResultToOutput({ content: mixed })).toEqual(mixed);
    expect(mcpResultToOutput({ content: [] })).toBe("");
  });
});
