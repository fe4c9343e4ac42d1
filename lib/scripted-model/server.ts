import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  autoScript,
  type ContentBlock,
  type Script,
  type ScriptContext,
  type ScriptedError,
  type ScriptedRequest,
  type ScriptStep,
} from "./scripts";

export interface ScriptedModelServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Applies when neither the script nor the step sets its own latency. */
  latencyMs?: number;
  /** Keyed by the loop id the runtime sends in `x-loopstacks-loop-id`. */
  scripts?: Record<string, Script>;
  /** For loops without a script of their own; the built-in auto script otherwise. */
  defaultScript?: Script;
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** Only protocol and routing headers; credentials are never recorded. */
  headers: Record<string, string>;
  hasCredentials: boolean;
  body: unknown;
  loopId: string | null;
  frameId: string | null;
  /** Epoch milliseconds. */
  time: number;
}

export interface ScriptedModelServer {
  start(): Promise<{ url: string }>;
  close(): Promise<void>;
  readonly url: string;
  setScript(loopId: string, script: Script): void;
  clearScripts(): void;
  setLatency(ms: number): void;
  readonly requests: readonly RecordedRequest[];
  /** Forgets recorded requests and restarts every conversation at its first step. */
  reset(): void;
}

const LOOP_ID_HEADER = "x-loopstacks-loop-id";
const FRAME_ID_HEADER = "x-loopstacks-frame-id";
const RECORDED_HEADERS = ["anthropic-version", "anthropic-beta", "content-type", "user-agent", LOOP_ID_HEADER, FRAME_ID_HEADER];
const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  529: "overloaded_error",
};

type Message = Record<string, unknown> & { content?: ContentBlock[] };

export function createScriptedModelServer(options: ScriptedModelServerOptions = {}): ScriptedModelServer {
  const host = options.host ?? "127.0.0.1";
  let latencyMs = options.latencyMs ?? 0;
  let scripts = new Map(Object.entries(options.scripts ?? {}));
  let requests: RecordedRequest[] = [];
  let callCounts = new Map<string, number>();
  let url = "";

  const server = createServer((req, res) => {
    res.setHeader("request-id", randomId("req_"));
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, { status: 500, message: error instanceof Error ? error.message : String(error) });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://scripted").pathname;
    const loopId = header(req, LOOP_ID_HEADER);
    const frameId = header(req, FRAME_ID_HEADER);
    const raw = await readBody(req);
    const body = parseJson(raw);
    requests.push({
      method: req.method ?? "",
      path,
      headers: Object.fromEntries(RECORDED_HEADERS.flatMap((name) => (req.headers[name] ? [[name, header(req, name) ?? ""]] : []))),
      hasCredentials: Boolean(header(req, "x-api-key") || header(req, "authorization")),
      body: body ?? raw,
      loopId,
      frameId,
      time: Date.now(),
    });

    if (req.method !== "POST" || path !== "/v1/messages") {
      return sendError(res, { status: 404, message: `${req.method} ${path} not found` });
    }
    if (!header(req, "x-api-key") && !header(req, "authorization")) {
      return sendError(res, { status: 401, message: "x-api-key header is required" });
    }
    const problem = body === undefined ? "The request body is not valid JSON" : validate(body);
    if (problem) return sendError(res, { status: 400, message: problem });

    const request = body as ScriptedRequest;
    const script = (loopId ? scripts.get(loopId) : undefined) ?? options.defaultScript ?? autoScript;
    const key = `${loopId ?? ""}|${frameId ?? conversationHash(request)}`;
    const callIndex = callCounts.get(key) ?? 0;
    callCounts.set(key, callIndex + 1);
    const context: ScriptContext = { loopId, frameId, callIndex, turn: request.messages.filter((m) => m.role === "assistant").length };
    const step =
      typeof script === "function"
        ? await script(request, context)
        : (script.steps[Math.min(callIndex, script.steps.length - 1)] ?? (await autoScript(request, context)));
    const delay = step.latencyMs ?? (typeof script === "function" ? undefined : script.latencyMs) ?? latencyMs;

    if (!(await waitUnlessClosed(res, "hang" in step ? Infinity : delay))) return;
    if ("error" in step) return sendError(res, step.error);
    const message = buildMessage(request, step);
    if ("broken" in step) return sendBroken(res, step.broken, JSON.stringify(message));
    if (request.stream) return sendStream(res, message, "malformed" in step && step.malformed === "not-json");
    if ("malformed" in step && step.malformed === "not-json") {
      return send(res, 200, JSON.stringify(message).slice(0, 40));
    }
    send(res, 200, JSON.stringify(message));
  }

  return {
    start() {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port ?? 0, host, () => {
          server.off("error", reject);
          const { port } = server.address() as AddressInfo;
          url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
          resolve({ url });
        });
      });
    },
    close() {
      if (!server.listening) return Promise.resolve();
      return new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
    get url() {
      return url;
    },
    setScript(loopId, script) {
      scripts.set(loopId, script);
      for (const key of callCounts.keys()) if (key.startsWith(`${loopId}|`)) callCounts.delete(key);
    },
    clearScripts() {
      scripts = new Map();
      callCounts = new Map();
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    get requests() {
      return requests;
    },
    reset() {
      requests = [];
      callCounts = new Map();
    },
  };
}

/** Mirrors the checks of the real Messages API that a runtime bug could trip. */
function validate(body: unknown): string | null {
  if (!isRecord(body)) return "The request body must be a JSON object";
  if (typeof body.model !== "string" || body.model === "") return "model: Field required";
  if (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1) {
    return "max_tokens: Input should be an integer greater than or equal to 1";
  }
  if (body.stream !== undefined && typeof body.stream !== "boolean") return "stream: Input should be a valid boolean";
  if (body.system !== undefined && typeof body.system !== "string" && !Array.isArray(body.system)) {
    return "system: Input should be a valid string or list of text blocks";
  }
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) return "tools: Input should be a valid list";
    const bad = body.tools.findIndex((t) => !isRecord(t) || typeof t.name !== "string" || !isRecord(t.input_schema));
    if (bad >= 0) return `tools.${bad}: each tool needs a name and an input_schema object`;
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) return "messages: at least one message is required";
  let pendingToolUses: string[] = [];
  for (const [i, message] of body.messages.entries()) {
    if (!isRecord(message)) return `messages.${i}: Input should be a valid dictionary`;
    const expected = i % 2 === 0 ? "user" : "assistant";
    if (message.role !== "user" && message.role !== "assistant") return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    if (message.role !== expected) {
      return i === 0
        ? 'messages: first message must use the "user" role'
        : `messages.${i}: roles must alternate between "user" and "assistant"`;
    }
    const content = message.content;
    if (typeof content !== "string" && !(Array.isArray(content) && content.every((b) => isRecord(b) && typeof b.type === "string"))) {
      return `messages.${i}.content: Input should be a valid string or list of content blocks`;
    }
    const blocks = typeof content === "string" ? [] : (content as ContentBlock[]);
    const resultIds = blocks.filter((b) => b.type === "tool_result").map((b) => b.tool_use_id);
    const unexpected = resultIds.find((id) => typeof id !== "string" || !pendingToolUses.includes(id));
    if (unexpected !== undefined) {
      return `messages.${i}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(unexpected)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
    }
    const missing = pendingToolUses.filter((id) => !resultIds.includes(id));
    if (missing.length > 0) {
      return `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(", ")}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
    }
    pendingToolUses = blocks.filter((b) => b.type === "tool_use").map((b) => b.id ?? "");
  }
  return null;
}

function buildMessage(request: ScriptedRequest, step: ScriptStep): Message {
  let content: ContentBlock[] = [{ type: "text", text: "[scripted model] malformed response" }];
  let stopReason = "end_turn";
  if ("toolUses" in step) {
    const uses = step.toolUses.map((u) => ({ type: "tool_use", id: u.id ?? randomId("toolu_"), name: u.name, input: u.input }));
    content = [...(step.text ? [{ type: "text", text: step.text }] : []), ...uses];
    stopReason = "tool_use";
  } else if ("text" in step) {
    content = [{ type: "text", text: step.text }];
    stopReason = step.stopReason ?? "end_turn";
  }
  const message: Message = {
    id: randomId("msg_"),
    type: "message",
    role: "assistant",
    model: request.model,
    content,
    stop_reason: "malformed" in step && step.malformed === "bad-stop-reason" ? "finished_somehow" : stopReason,
    stop_sequence: null,
    usage: { input_tokens: estimateTokens(request.system, request.messages, request.tools), output_tokens: estimateTokens(content) },
  };
  if ("malformed" in step && step.malformed === "missing-content") delete message.content;
  // A gateway that reports billions of tokens for one call.
  if ("malformed" in step && step.malformed === "absurd-usage") message.usage = { input_tokens: 3_000_000_000, output_tokens: 1 };
  return message;
}

/** The real event sequence; the SDK's stream accumulator rebuilds the same message. */
function sendStream(res: ServerResponse, message: Message, isGarbled: boolean): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const event = (type: string, data: Record<string, unknown>) =>
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  const usage = message.usage as { input_tokens: number; output_tokens: number };
  if (isGarbled) {
    res.end(`event: message_start\ndata: ${JSON.stringify({ type: "message_start", message }).slice(0, 40)}\n\n`);
    return;
  }
  const { content, ...rest } = message;
  const start = { ...rest, stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } };
  event("message_start", { message: content ? { ...start, content: [] } : start });
  event("ping", {});
  for (const [index, block] of (content ?? []).entries()) {
    if (block.type === "tool_use") {
      event("content_block_start", { index, content_block: { ...block, input: {} } });
      for (const part of chunks(JSON.stringify(block.input ?? {}))) {
        event("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: part } });
      }
    } else {
      event("content_block_start", { index, content_block: { type: "text", text: "" } });
      for (const part of chunks(block.text ?? "")) event("content_block_delta", { index, delta: { type: "text_delta", text: part } });
    }
    event("content_block_stop", { index });
  }
  event("message_delta", {
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: { output_tokens: usage.output_tokens },
  });
  event("message_stop", {});
  res.end();
}

function sendError(res: ServerResponse, error: ScriptedError): void {
  const type = error.type ?? ERROR_TYPES[error.status] ?? (error.status >= 500 ? "api_error" : "invalid_request_error");
  const retryAfter = error.retryAfterSeconds ?? (error.status === 429 ? 1 : undefined);
  if (retryAfter !== undefined) res.setHeader("retry-after", String(retryAfter));
  const body = {
    type: "error",
    error: { type, message: error.message ?? `[scripted model] ${type}` },
    request_id: res.getHeader("request-id"),
  };
  send(res, error.status, JSON.stringify(body));
}

/** A 200 whose connection fails: after the headers (which promise the whole body) or in the middle of the body. */
function sendBroken(res: ServerResponse, how: "stall-after-headers" | "cut-mid-body", body: string): void {
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  if (how === "stall-after-headers") {
    res.flushHeaders();
    return;
  }
  res.write(body.slice(0, Math.floor(body.length / 2)));
  setTimeout(() => res.socket?.destroy(), 5);
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** Resolves false when the client went away or the server is closing, so nothing is written. */
function waitUnlessClosed(res: ServerResponse, ms: number): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(!res.destroyed);
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = Number.isFinite(ms)
      ? setTimeout(() => {
          res.off("close", onClose);
          resolve(!res.destroyed);
        }, ms)
      : undefined;
    res.once("close", onClose);
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString("utf8");
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value) || null;
}

/** Without a frame id, a conversation is recognised by how it started. */
function conversationHash(request: ScriptedRequest): string {
  const firstUser = request.messages[0]?.content;
  return createHash("sha256")
    .update(JSON.stringify([request.system ?? null, firstUser]))
    .digest("hex")
    .slice(0, 16);
}

function estimateTokens(...parts: unknown[]): number {
  const chars = parts.reduce<number>((sum, part) => sum + (part === undefined ? 0 : JSON.stringify(part).length), 0);
  return Math.max(1, Math.ceil(chars / 4));
}

function chunks(text: string, count = 3): string[] {
  if (text === "") return [];
  const size = Math.ceil(text.length / count);
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += size) parts.push(text.slice(i, i + size));
  return parts;
}

const ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

function randomId(prefix: string): string {
  return prefix + Array.from(randomBytes(24), (byte) => ID_ALPHABET[byte % ID_ALPHABET.length]).join("");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
