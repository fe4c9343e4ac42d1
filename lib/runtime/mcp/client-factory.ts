import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { formatPath } from "../definition";
import { DispatchError } from "../retry";
import type { McpClientFactory, McpToolInfo, McpToolResult, ResolvedMcpServer } from "../types";

export interface McpClientFactoryOptions {
  /** Announced to servers in the MCP handshake. */
  clientName?: string;
  clientVersion?: string;
  /** Bounds starting a server (or reaching it) plus the MCP handshake. */
  connectTimeoutMs?: number;
  /** How servers over HTTP are reached (see `createLoopFetch` in http-client.ts); the global `fetch` when absent. */
  fetch?: FetchLike;
}

export type McpConnectionInfo =
  | { transport: "stdio"; command: string; pid: number | null }
  /** Origin and path only: a query string may carry a token. */
  | { transport: "http"; url: string };

/** For a health page: never contains environment or header values. */
export interface McpConnectionStats {
  open: McpConnectionInfo[];
  /** Handshakes in progress. */
  connecting: number;
  /** Connections established since the factory was created, reconnects included. */
  opened: number;
}

export interface PooledMcpClientFactory extends McpClientFactory {
  stats(): McpConnectionStats;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/** Enough of a dying server's stderr to show why it died. */
const STDERR_TAIL_CHARS = 2_000;
const TERMINATE_SESSION_TIMEOUT_MS = 2_000;
const MAX_TOOL_LIST_PAGES = 100;

const contentBlockSchema = z.looseObject({ type: z.string() });

const callToolResultSchema = z.looseObject({
  content: z.array(contentBlockSchema),
  structuredContent: z.record(z.string(), z.unknown()).nullish(),
  isError: z.boolean().nullish(),
});

const listToolsResultSchema = z.looseObject({
  tools: z.array(
    z.looseObject({
      name: z.string(),
      description: z.string().nullish(),
      inputSchema: z.record(z.string(), z.unknown()),
    }),
  ),
  nextCursor: z.string().nullish(),
});

/** The SDK's own result parsing is bypassed so that malformed results get our error code and message. */
const rawResultSchema = z.unknown();

/**
 * The SDK's client closes a transport itself when a handshake fails and again when asked;
 * the second close would return before the first has stopped the process. Sharing one
 * close lets shutdown wait for the process to be gone.
 */
class StdioTransport extends StdioClientTransport {
  private closing: Promise<void> | undefined;

  override close(): Promise<void> {
    this.closing ??= super.close();
    return this.closing;
  }
}

type Transport = StdioTransport | StreamableHTTPClientTransport;

interface Connection {
  server: ResolvedMcpServer;
  client: Client;
  transport: Transport;
  stderrTail: string;
}

interface PoolEntry {
  key: string;
  ready: Promise<Connection>;
  connection: Connection | null;
}

/**
 * Pooled MCP connections, one per distinct server config: a stdio server is spawned once
 * and serves every frame; an HTTP server keeps one session. Concurrent first calls share
 * one handshake. A connection that closes, or whose transport fails during a call, leaves
 * the pool so the next call reconnects.
 */
export function createMcpClientFactory(options: McpClientFactoryOptions = {}): PooledMcpClientFactory {
  const clientInfo = { name: options.clientName ?? "loopstacks", version: options.clientVersion ?? "unknown" };
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const pool = new Map<string, PoolEntry>();
  /** Handshakes and shutdowns that `close()` must wait for, including those no longer in the pool. */
  const pending = new Set<Promise<unknown>>();
  let opened = 0;
  let closing: Promise<void> | null = null;

  function acquire(server: ResolvedMcpServer, key: string, signal: AbortSignal): Promise<Connection> {
    if (closing) return Promise.reject(closedError());
    let entry = pool.get(key);
    if (!entry) {
      entry = open(key, server);
      pool.set(key, entry);
    }
    // The handshake is shared, so one caller giving up must not abort it for the others.
    return abortable(entry.ready, signal);
  }

  function open(key: string, server: ResolvedMcpServer): PoolEntry {
    const entry: PoolEntry = { key, ready: connect(), connection: null };
    // Every caller may have given up while the handshake runs; its failure is then nobody's to handle.
    track(entry.ready);
    return entry;

    async function connect(): Promise<Connection> {
      const transport = createTransport(server, options.fetch);
      const client = new Client(clientInfo, { capabilities: {} });
      const connection: Connection = { server, client, transport, stderrTail: "" };
      if (transport instanceof StdioTransport) {
        // Read stderr continuously: an unread pipe fills up and blocks the server.
        transport.stderr?.on("data", (chunk: Buffer | string) => {
          connection.stderrTail = (connection.stderrTail + chunk.toString()).slice(-STDERR_TAIL_CHARS);
        });
      }
      client.onclose = () => forget(entry);
      try {
        await client.connect(transport, { timeout: connectTimeoutMs });
      } catch (error) {
        forget(entry);
        // The failure is reported at once; a server ignoring end-of-input takes seconds to stop.
        track(client.close());
        throw connectFailure(connection, error, connectTimeoutMs);
      }
      if (closing) {
        await client.close().catch(() => undefined);
        throw closedError();
      }
      entry.connection = connection;
      opened++;
      return connection;
    }
  }

  function track(promise: Promise<unknown>): void {
    const settled = promise.then(
      () => undefined,
      () => undefined,
    );
    pending.add(settled);
    void settled.then(() => pending.delete(settled));
  }

  function forget(entry: PoolEntry): void {
    if (pool.get(entry.key) === entry) pool.delete(entry.key);
  }

  /** Drops a connection whose transport failed; calls still in flight on it fail as connection errors. */
  function evict(entry: PoolEntry, connection: Connection): void {
    forget(entry);
    track(closeConnection(connection));
  }

  async function withConnection<T>(
    server: ResolvedMcpServer,
    signal: AbortSignal,
    timeoutMs: number,
    what: string,
    operation: (connection: Connection) => Promise<T>,
  ): Promise<T> {
    const key = connectionKey(server);
    const connection = await acquire(server, key, signal);
    try {
      return await operation(connection);
    } catch (error) {
      if (signal.aborted) throw abortReason(signal);
      if (error instanceof DispatchError) throw error;
      const failure = callFailure(connection, error, what, timeoutMs);
      if (failure.code === "mcp_connection_error") {
        const entry = pool.get(key);
        if (entry?.connection === connection) evict(entry, connection);
      }
      throw failure;
    }
  }

  return {
    callTool(server, tool, args, { signal, timeoutMs }) {
      return withConnection(server, signal, timeoutMs, `tool "${tool}"`, async (connection): Promise<McpToolResult> => {
        const raw = await connection.client.request(
          { method: "tools/call", params: { name: tool, arguments: args } },
          rawResultSchema,
          { signal, timeout: timeoutMs },
        );
        const result = parseResult(callToolResultSchema, raw, `tool "${tool}"`);
        // Servers built on the SDK's McpServer report an unknown tool as an error result,
        // not a JSON-RPC error; a caller's typo must not look like the tool failing.
        if (result.isError && !(await offersTool(connection, tool, signal, timeoutMs))) {
          const message = textOf(result.content) || `The MCP server has no tool "${tool}"`;
          throw new DispatchError("mcp_protocol_error", stripMcpPrefix(message), { retryable: false });
        }
        return {
          content: result.content,
          ...(result.structuredContent != null ? { structuredContent: result.structuredContent } : {}),
          ...(result.isError != null ? { isError: result.isError } : {}),
        };
      });
    },

    listTools(server, { signal, timeoutMs }) {
      return withConnection(server, signal, timeoutMs, "tools/list", (connection) => listAllTools(connection, signal, timeoutMs));
    },

    stats() {
      const entries = [...pool.values()];
      return {
        open: entries.flatMap((entry) => (entry.connection ? [connectionInfo(entry.connection)] : [])),
        connecting: entries.filter((entry) => entry.connection === null).length,
        opened,
      };
    },

    close() {
      closing ??= (async () => {
        const entries = [...pool.values()];
        pool.clear();
        await Promise.all(
          entries.map(async (entry) => {
            const connection = await entry.ready.catch(() => null);
            if (connection) await closeConnection(connection);
          }),
        );
        // A failing handshake queues its own cleanup while it settles.
        while (pending.size > 0) await Promise.all(pending);
      })();
      return closing;
    },
  };
}

function createTransport(server: ResolvedMcpServer, fetch: FetchLike | undefined): Transport {
  if (server.transport === "stdio") {
    return new StdioTransport({
      command: server.command,
      args: server.args,
      // Only a sudo-like safe subset of this process's environment is inherited: the
      // runtime's database URL, API keys and signing keys must not reach tool servers.
      env: { ...getDefaultEnvironment(), ...server.env },
      ...(server.cwd !== undefined ? { cwd: server.cwd } : {}),
      // The parent's stdout may be a CLI's output; a tool server must not write into it.
      stderr: "pipe",
    });
  }
  return new StreamableHTTPClientTransport(new URL(server.url), {
    requestInit: { headers: server.headers },
    fetch: closingAbandonedRequests(fetch ?? globalThis.fetch),
    // A stream that ends before its answer is not resumed: the call's own timeout and the loop's
    // retries decide what happens next, and a call given up on stays closed.
    reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 1_000, maxReconnectionDelay: 30_000, reconnectionDelayGrowFactor: 1.5 },
  });
}

/**
 * One connection's fetch, which closes the POST of a request the client has given up on. The MCP
 * SDK tells the server with `notifications/cancelled` when a call times out or its caller aborts,
 * but leaves that request's POST, and the server's answer stream with it, open until the whole
 * connection closes: a server that never answers would hold a socket per abandoned call.
 */
function closingAbandonedRequests(fetch: FetchLike): FetchLike {
  const open = new Map<string | number, AbortController>();
  return async (url, init) => {
    const message = jsonRpcMessage(init?.body);
    if (message?.method === "notifications/cancelled") {
      const id = (message.params as { requestId?: unknown } | undefined)?.requestId;
      if (typeof id === "string" || typeof id === "number") open.get(id)?.abort(new DOMException("The client gave up on the request", "AbortError"));
    }
    const id = message?.id;
    if ((typeof id !== "string" && typeof id !== "number") || message?.method === undefined) return fetch(url, init);
    // The transport's own signal (the connection closing) still ends the request too.
    const controller = new AbortController();
    const outer = init?.signal;
    const onOuterAbort = () => controller.abort(outer?.reason);
    if (outer?.aborted) onOuterAbort();
    else outer?.addEventListener("abort", onOuterAbort, { once: true });
    open.set(id, controller);
    const done = () => {
      if (open.get(id) === controller) open.delete(id);
      outer?.removeEventListener("abort", onOuterAbort);
    };
    controller.signal.addEventListener("abort", done, { once: true });
    let response: Response;
    try {
      response = await fetch(url, { ...init, signal: controller.signal });
    } catch (error) {
      done();
      throw error;
    }
    if (!response.body) {
      done();
      return response;
    }
    // The request stays closable until its answer has been read to the end, or its reader gives up.
    const body = response.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ flush: done, cancel: done } as Transformer<Uint8Array, Uint8Array>));
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/** A JSON-RPC message sent as the body, or null (a batch, or no body at all). */
function jsonRpcMessage(body: unknown): { id?: unknown; method?: string; params?: unknown } | null {
  if (typeof body !== "string") return null;
  try {
    const parsed: unknown = JSON.parse(body);
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as { id?: unknown; method?: string; params?: unknown }) : null;
  } catch {
    return null;
  }
}

/**
 * The pool's key for a server: every setting, in a fixed order, so that servers differing in any
 * of them get connections of their own. Made on every call, so cheaper than canonical JSON.
 */
export function connectionKey(server: ResolvedMcpServer): string {
  const sorted = (values: Record<string, string>) => Object.entries(values).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return server.transport === "stdio"
    ? JSON.stringify(["stdio", server.command, server.args, sorted(server.env), server.cwd ?? null])
    : JSON.stringify(["http", server.url, sorted(server.headers)]);
}

async function closeConnection(connection: Connection): Promise<void> {
  connection.client.onclose = undefined;
  const { transport } = connection;
  if (transport instanceof StreamableHTTPClientTransport && transport.sessionId !== undefined) {
    // Ends the session on the server instead of leaving it to expire.
    await withTimeout(transport.terminateSession(), TERMINATE_SESSION_TIMEOUT_MS).catch(() => undefined);
  }
  await connection.client.close().catch(() => undefined);
}

async function listAllTools(connection: Connection, signal: AbortSignal, timeoutMs: number): Promise<McpToolInfo[]> {
  const tools: McpToolInfo[] = [];
  const seenCursors = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < MAX_TOOL_LIST_PAGES; page++) {
    const raw = await connection.client.request(
      { method: "tools/list", params: cursor !== undefined ? { cursor } : {} },
      rawResultSchema,
      { signal, timeout: timeoutMs },
    );
    const result = parseResult(listToolsResultSchema, raw, "tools/list");
    for (const tool of result.tools) {
      tools.push({
        name: tool.name,
        ...(tool.description != null ? { description: tool.description } : {}),
        inputSchema: tool.inputSchema,
      });
    }
    if (result.nextCursor == null || seenCursors.has(result.nextCursor)) break;
    seenCursors.add(result.nextCursor);
    cursor = result.nextCursor;
  }
  return tools;
}

/** Whether the server lists the tool; when the list cannot be had, assume it does. */
async function offersTool(connection: Connection, tool: string, signal: AbortSignal, timeoutMs: number): Promise<boolean> {
  try {
    const tools = await listAllTools(connection, signal, timeoutMs);
    return tools.some((candidate) => candidate.name === tool);
  } catch (error) {
    if (signal.aborted) throw error;
    return true;
  }
}

function parseResult<T extends z.ZodType>(schema: T, raw: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => `${formatPath(issue.path) || "(result)"}: ${issue.message}`).join("; ");
  throw new DispatchError("mcp_invalid_response", `The MCP server returned an invalid result for ${what}: ${issues}`, {
    retryable: false,
  });
}

function connectFailure(connection: Connection, error: unknown, connectTimeoutMs: number): DispatchError {
  const target = describeServer(connection.server);
  if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) {
    return new DispatchError("mcp_connection_error", `MCP server ${target} did not complete the handshake within ${connectTimeoutMs} ms`, {
      retryable: true,
      cause: error,
    });
  }
  const status = error instanceof StreamableHTTPError && error.code !== undefined && error.code > 0 ? error.code : undefined;
  return new DispatchError("mcp_connection_error", `Cannot connect to MCP server ${target}: ${describeError(error)}${stderrNote(connection)}`, {
    // Refused credentials stay refused however often they are sent.
    retryable: status !== 401 && status !== 403,
    ...(status !== undefined ? { status } : {}),
    cause: error,
  });
}

function callFailure(connection: Connection, error: unknown, what: string, timeoutMs: number): DispatchError {
  if (error instanceof McpError) {
    if (error.code === ErrorCode.RequestTimeout) {
      return new DispatchError("mcp_timeout", `MCP ${what} did not answer within ${timeoutMs} ms`, { retryable: true, cause: error });
    }
    if (error.code !== ErrorCode.ConnectionClosed) {
      return new DispatchError("mcp_protocol_error", stripMcpPrefix(error.message), {
        retryable: false,
        details: { code: error.code, ...(error.data !== undefined ? { data: error.data } : {}) },
        cause: error,
      });
    }
  }
  const status = error instanceof StreamableHTTPError && error.code !== undefined && error.code > 0 ? error.code : undefined;
  return new DispatchError(
    "mcp_connection_error",
    `Lost the connection to MCP server ${describeServer(connection.server)} during ${what}: ${describeError(error)}${stderrNote(connection)}`,
    { retryable: status !== 401 && status !== 403, ...(status !== undefined ? { status } : {}), cause: error },
  );
}

function connectionInfo(connection: Connection): McpConnectionInfo {
  const { server, transport } = connection;
  if (server.transport === "stdio") {
    return { transport: "stdio", command: server.command, pid: transport instanceof StdioTransport ? transport.pid : null };
  }
  return { transport: "http", url: safeUrl(server.url) };
}

function describeServer(server: ResolvedMcpServer): string {
  return server.transport === "stdio" ? `"${server.command}"` : safeUrl(server.url);
}

function safeUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const message = stripMcpPrefix(error.message);
  // fetch reports "fetch failed" and keeps the reason (ECONNREFUSED …) in its cause.
  const cause: unknown = error.cause;
  if (cause instanceof Error && cause.message && !message.includes(cause.message)) return `${message} (${cause.message})`;
  return message;
}

function stderrNote(connection: Connection): string {
  const tail = connection.stderrTail.trim();
  return tail ? `\nServer stderr:\n${tail}` : "";
}

/** McpError prefixes messages with "MCP error <code>: "; the code is kept in details. */
function stripMcpPrefix(message: string): string {
  return message.replace(/^MCP error -?\d+: /, "");
}

function textOf(content: readonly { type: string }[]): string {
  return content
    .flatMap((block) => ("text" in block && block.type === "text" && typeof block.text === "string" ? [block.text] : []))
    .join("\n");
}

function closedError(): DispatchError {
  return new DispatchError("mcp_client_closed", "The MCP client factory has been closed; no further calls are accepted", { retryable: false });
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
