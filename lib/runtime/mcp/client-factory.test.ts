import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { everythingStdioServer, startEverythingHttpServer, type EverythingHttpServer } from "../../../test/mcp-servers";
import { DispatchError, isAbortError } from "../retry";
import type { ResolvedMcpServer } from "../types";
import { connectionKey, createMcpClientFactory, type PooledMcpClientFactory } from "./client-factory";

const options = () => ({ signal: new AbortController().signal, timeoutMs: 10_000 });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let httpServer: EverythingHttpServer;

beforeAll(async () => {
  httpServer = await startEverythingHttpServer();
});

afterAll(async () => {
  await httpServer?.close();
});

const transports: [string, () => ResolvedMcpServer][] = [
  ["stdio", () => everythingStdioServer()],
  ["Streamable HTTP", () => ({ transport: "http", url: httpServer.url, headers: { "x-loopstacks-test": "1" } })],
];

describe.each(transports)("MCP client factory over %s", (_name, server) => {
  let factory: PooledMcpClientFactory;

  beforeAll(() => {
    factory = createMcpClientFactory({ clientName: "loopstacks-test" });
  });

  afterAll(async () => {
    await factory.close();
  });

  it("lists the server's tools with their input schemas", async () => {
    const tools = await factory.listTools(server(), options());
    const names = tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(["echo", "get-sum"]));
    const getSum = tools.find((tool) => tool.name === "get-sum");
    expect(getSum?.description).toBeTruthy();
    expect(getSum?.inputSchema).toMatchObject({ type: "object", properties: { a: { type: "number" }, b: { type: "number" } } });
  });

  it("calls echo and get-sum", async () => {
    const echo = await factory.callTool(server(), "echo", { message: "hello loops" }, options());
    expect(echo).toEqual({ content: [{ type: "text", text: "Echo: hello loops" }] });

    const sum = await factory.callTool(server(), "get-sum", { a: 2, b: 40 }, options());
    expect(sum.isError).toBeUndefined();
    expect(sum.content).toEqual([{ type: "text", text: "The sum of 2 and 40 is 42." }]);
  });

  it("returns structured content when the tool gives it", async () => {
    const result = await factory.callTool(server(), "get-structured-content", { location: "Chicago" }, options());
    expect(result.structuredContent).toEqual({ temperature: 36, conditions: "Light rain / drizzle", humidity: 82 });
  });

  it("reuses one connection for repeated and concurrent calls", async () => {
    const pooled = createMcpClientFactory();
    try {
      await Promise.all([1, 2, 3].map((n) => pooled.callTool(server(), "get-sum", { a: n, b: n }, options())));
      await pooled.callTool(server(), "echo", { message: "again" }, options());
      await pooled.listTools(server(), options());
      const stats = pooled.stats();
      expect(stats.opened).toBe(1);
      expect(stats.open).toHaveLength(1);
      expect(stats.connecting).toBe(0);
    } finally {
      await pooled.close();
    }
  });

  it("reports an unknown tool as a non-retryable protocol error", async () => {
    const error = await rejection(factory.callTool(server(), "no-such-tool", {}, options()));
    expect(error).toBeInstanceOf(DispatchError);
    expect(error).toMatchObject({ code: "mcp_protocol_error", retryable: false });
    expect((error as DispatchError).message).toContain("no-such-tool");
  });

  it("returns a tool's own failure as an error result", async () => {
    const result = await factory.callTool(server(), "get-sum", { a: "two", b: 2 }, options());
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toMatch(/validation/i);
  });

  it("times out a slow call as retryable and keeps the connection", async () => {
    const before = factory.stats().opened;
    const error = await rejection(
      factory.callTool(server(), "trigger-long-running-operation", { duration: 2, steps: 2 }, { signal: new AbortController().signal, timeoutMs: 150 }),
    );
    expect(error).toMatchObject({ code: "mcp_timeout", retryable: true });
    await factory.callTool(server(), "echo", { message: "still here" }, options());
    expect(factory.stats().opened).toBe(before);
  });

  it("rethrows the caller's abort", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const call = factory.callTool(server(), "trigger-long-running-operation", { duration: 5, steps: 5 }, { signal: controller.signal, timeoutMs: 10_000 });
    setTimeout(() => controller.abort(), 100);
    const error = await rejection(call);
    expect(isAbortError(error)).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("rejects calls after close", async () => {
    const closing = createMcpClientFactory();
    await closing.callTool(server(), "echo", { message: "x" }, options());
    await closing.close();
    expect(closing.stats().open).toHaveLength(0);
    const error = await rejection(closing.callTool(server(), "echo", { message: "x" }, options()));
    expect(error).toMatchObject({ code: "mcp_client_closed", retryable: false });
  });
});

describe("connectionKey", () => {
  it("is the same for the same settings in any order, and differs when any setting differs", () => {
    const stdio: ResolvedMcpServer = { transport: "stdio", command: "node", args: ["server.js"], env: { A: "1", B: "2" } };
    expect(connectionKey({ ...stdio, env: { B: "2", A: "1" } })).toBe(connectionKey(stdio));
    const variants: ResolvedMcpServer[] = [
      { ...stdio, command: "nodejs" },
      { ...stdio, args: ["server.js", "--verbose"] },
      { ...stdio, args: ["server.js,--verbose"] },
      { ...stdio, env: { A: "1", B: "3" } },
      { ...stdio, env: { A: "1" } },
      { ...stdio, cwd: "/srv" },
      { transport: "http", url: "http://127.0.0.1:1/mcp", headers: {} },
      { transport: "http", url: "http://127.0.0.1:1/mcp", headers: { authorization: "Bearer x" } },
    ];
    const keys = new Set([stdio, ...variants].map(connectionKey));
    expect(keys.size).toBe(variants.length + 1);
  });
});

describe("MCP client factory, stdio processes", () => {
  it("starts the server with only a safe environment plus its own env", async () => {
    const factory = createMcpClientFactory();
    process.env.LOOPSTACKS_PARENT_ONLY = "parent-secret";
    try {
      const result = await factory.callTool({ ...everythingStdioServer(), env: { TOOL_SETTING: "on" } }, "get-env", {}, options());
      const env = JSON.parse((result.content[0] as { text: string }).text) as Record<string, string>;
      expect(env.TOOL_SETTING).toBe("on");
      expect(env.PATH).toBeTruthy();
      expect(env.LOOPSTACKS_PARENT_ONLY).toBeUndefined();
    } finally {
      delete process.env.LOOPSTACKS_PARENT_ONLY;
      await factory.close();
    }
  });

  it("ends the child processes on close", async () => {
    const factory = createMcpClientFactory();
    await factory.callTool(everythingStdioServer(), "echo", { message: "a" }, options());
    await factory.callTool({ ...everythingStdioServer(), env: { VARIANT: "b" } }, "echo", { message: "b" }, options());
    const pids = factory.stats().open.flatMap((info) => (info.transport === "stdio" && info.pid !== null ? [info.pid] : []));
    expect(pids).toHaveLength(2);
    expect(pids.every(isAlive)).toBe(true);
    await factory.close();
    expect(pids.some(isAlive)).toBe(false);
  });

  it("reconnects after the server process dies", async () => {
    const factory = createMcpClientFactory();
    try {
      await factory.callTool(everythingStdioServer(), "echo", { message: "first" }, options());
      const [info] = factory.stats().open;
      if (info?.transport !== "stdio" || info.pid === null) throw new Error("expected a stdio connection");
      process.kill(info.pid, "SIGKILL");
      await waitFor(() => factory.stats().open.length === 0);
      const result = await factory.callTool(everythingStdioServer(), "echo", { message: "second" }, options());
      expect(result.content).toEqual([{ type: "text", text: "Echo: second" }]);
      expect(factory.stats().opened).toBe(2);
    } finally {
      await factory.close();
    }
  });

  it("maps a command that does not exist to a retryable connection error", async () => {
    const factory = createMcpClientFactory();
    try {
      const server: ResolvedMcpServer = { transport: "stdio", command: "/nonexistent/mcp-server", args: [], env: {} };
      const error = await rejection(factory.callTool(server, "echo", {}, options()));
      expect(error).toMatchObject({ code: "mcp_connection_error", retryable: true });
      expect((error as Error).message).toContain("/nonexistent/mcp-server");
      expect(factory.stats()).toMatchObject({ open: [], connecting: 0, opened: 0 });
    } finally {
      await factory.close();
    }
  });

  it("includes the stderr of a server that dies during the handshake", async () => {
    const factory = createMcpClientFactory();
    try {
      const server: ResolvedMcpServer = {
        transport: "stdio",
        command: process.execPath,
        args: ["-e", "console.error('missing configuration file'); process.exit(3)"],
        env: {},
      };
      const error = await rejection(factory.callTool(server, "echo", {}, options()));
      expect(error).toMatchObject({ code: "mcp_connection_error", retryable: true });
      expect((error as Error).message).toContain("missing configuration file");
    } finally {
      await factory.close();
    }
  });

  it("bounds the handshake with the connect timeout and still stops the silent server", async () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), "loopstacks-mcp-")), "pid");
    const factory = createMcpClientFactory({ connectTimeoutMs: 300 });
    const server: ResolvedMcpServer = {
      transport: "stdio",
      command: process.execPath,
      args: ["-e", `require("node:fs").writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000)`],
      env: {},
    };
    const started = Date.now();
    const error = await rejection(factory.callTool(server, "echo", {}, options()));
    expect(error).toMatchObject({ code: "mcp_connection_error", retryable: true });
    expect((error as Error).message).toContain("300 ms");
    expect(Date.now() - started).toBeLessThan(1_500);
    const pid = Number(readFileSync(pidFile, "utf8"));
    await factory.close();
    expect(isAlive(pid)).toBe(false);
  });
});

describe("MCP client factory, Streamable HTTP endpoints", () => {
  it("maps a refused connection to a retryable connection error", async () => {
    const factory = createMcpClientFactory();
    try {
      const error = await rejection(factory.callTool({ transport: "http", url: "http://127.0.0.1:9/mcp", headers: {} }, "echo", {}, options()));
      expect(error).toMatchObject({ code: "mcp_connection_error", retryable: true });
      expect((error as Error).message).toContain("http://127.0.0.1:9/mcp");
    } finally {
      await factory.close();
    }
  });
});

describe("MCP client factory over Streamable HTTP, against a server that never answers a call", () => {
  const unanswered = new Set<ServerResponse>();
  let resumed = 0;
  const server = createServer((request, response) => {
    let raw = "";
    request.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    request.on("end", () => {
      if (request.headers["last-event-id"]) resumed++;
      if (request.method !== "POST") return response.writeHead(405).end();
      const message = JSON.parse(raw) as { id?: number; method: string; params: { protocolVersion?: string; name?: string } };
      const answer = (result: unknown) => response.writeHead(200, { "content-type": "application/json", "mcp-session-id": "session-1" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
      if (message.method === "initialize") return answer({ protocolVersion: message.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "silent", version: "1" } });
      if (message.id === undefined) return response.writeHead(202).end();
      if (message.method === "tools/call" && message.params.name === "answers") return answer({ content: [{ type: "text", text: "here" }] });
      if (message.method === "tools/call" && message.params.name === "hangs-resumably") {
        // An event stream whose first event has an id: a stream the client could resume.
        response.writeHead(200, { "content-type": "text/event-stream", "mcp-session-id": "session-1" });
        response.write("id: event-1\ndata: \n\n");
      }
      unanswered.add(response);
      response.on("close", () => unanswered.delete(response));
    });
  });
  let url = "";
  let factory: PooledMcpClientFactory;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
    factory = createMcpClientFactory({ clientName: "loopstacks-test" });
  });

  afterAll(async () => {
    await factory?.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("closes the request of a call that timed out, or whose caller gave up, and keeps the connection", async () => {
    const silent: ResolvedMcpServer = { transport: "http", url, headers: {} };
    const timedOut = await rejection(factory.callTool(silent, "hangs", {}, { signal: new AbortController().signal, timeoutMs: 200 }));
    expect(timedOut).toMatchObject({ code: "mcp_timeout" });
    await waitFor(() => unanswered.size === 0, 2_000);

    const controller = new AbortController();
    const abandoned = factory.callTool(silent, "hangs", {}, { signal: controller.signal, timeoutMs: 10_000 });
    await waitFor(() => unanswered.size === 1, 2_000);
    controller.abort();
    expect(isAbortError(await rejection(abandoned))).toBe(true);
    await waitFor(() => unanswered.size === 0, 2_000);

    expect(await factory.callTool(silent, "answers", {}, options())).toMatchObject({ content: [{ type: "text", text: "here" }] });
    expect(factory.stats().opened).toBe(1);
  });

  it("does not resume the event stream of a call it gave up on", async () => {
    const silent: ResolvedMcpServer = { transport: "http", url, headers: {} };
    const timedOut = await rejection(factory.callTool(silent, "hangs-resumably", {}, { signal: new AbortController().signal, timeoutMs: 200 }));
    expect(timedOut).toMatchObject({ code: "mcp_timeout" });
    await waitFor(() => unanswered.size === 0, 2_000);
    // A resumption would come after the SDK's first reconnection delay (one second).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(resumed).toBe(0);
    expect(unanswered.size).toBe(0);
  });
});
