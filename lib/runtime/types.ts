import type { Readable } from "node:stream";
import type { LoopDefinition, LoopType, McpServerConfig } from "./definition";

export const ROLES = ["viewer", "operator", "maintainer", "auditor", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** Who invoked a run. Children run with the original caller's identity. */
export interface Identity {
  /** Stable id: an LDAP uid, a dev-directory user, or `token:<id>` for a service. */
  subject: string;
  displayName?: string;
  /** Group DNs (normalised to lower case by the directory adapter). */
  groups: string[];
  kind: "user" | "service";
  /** Where the identity came from: `ldap`, `dev-directory`, `service-token`, `cli`. */
  source: string;
}

export type AuthorizationAction = "invoke";

export interface AuthorizationRequest {
  identity: Identity;
  realm: string;
  action: AuthorizationAction;
  loopId: string;
}

/** Recorded on every frame: the server's own record of why the call was allowed or refused. */
export interface AuthorizationDecision {
  allowed: boolean;
  action: AuthorizationAction;
  realm: string;
  /** The role that allowed the call, or the best role the caller held. */
  role: Role | null;
  /** The group DN (or service token) the role came from. */
  via: string | null;
  reason: string;
  checkedAt: string;
}

export interface Authorizer {
  authorize(request: AuthorizationRequest): Promise<AuthorizationDecision>;
}

export interface Clock {
  now(): Date;
}

/**
 * Resolves `{ secret: NAME }` references at dispatch time, for a frame of a loop in `realm`:
 * undefined when the secret is not set, or not available to that realm (the two are not told
 * apart, so a loop's maintainers learn nothing of the secrets other realms use).
 */
export interface SecretResolver {
  resolve(name: string, realm: string): string | undefined;
}

/** One HTTP request as an HTTP loop sends it: redirects are not followed, the body is read by the caller. */
export interface HttpRequestInit {
  method: string;
  /** Lower-case names, validated. */
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

export interface HttpResponse {
  status: number;
  /** A response header by its lower-case name, several values joined with ", "; null when absent. */
  header(name: string): string | null;
  /** The body as a stream of byte chunks; a caller that stops early calls `discard()`. */
  body: Readable;
  /** Drops the rest of the body. */
  discard(): Promise<void>;
}

/** How HTTP loops reach their endpoints (see `createHttpClient`). */
export interface HttpClient {
  request(url: string, init: HttpRequestInit): Promise<HttpResponse>;
}

/** A Messages API request, as sent to `POST /v1/messages`. */
export interface ModelRequest {
  model: string;
  max_tokens: number;
  system?: string;
  temperature?: number;
  messages: ModelMessage[];
  tools?: { name: string; description?: string; input_schema: Record<string, unknown> }[];
}

export type ModelContentBlock =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: unknown }
  | { type: "tool_result"; tool_use_id: string; content: string; is_error?: boolean };

export interface ModelMessage {
  role: "user" | "assistant";
  content: string | ModelContentBlock[];
}

export interface ModelCallOptions {
  signal: AbortSignal;
  timeoutMs: number;
  /** Lets a scripted server choose a script per loop; harmless to the real API. */
  headers: Record<string, string>;
}

/**
 * The model provider. Returns the raw response body; the runtime validates it.
 * Throws `ModelCallError` for failed calls so the runtime can decide whether to retry.
 */
export interface ModelClient {
  createMessage(request: ModelRequest, options: ModelCallOptions): Promise<unknown>;
}

export interface McpToolResult {
  content: unknown[];
  structuredContent?: unknown;
  isError?: boolean;
}

export interface McpToolInfo {
  name: string;
  description?: string;
  inputSchema: Record<string, unknown>;
}

/**
 * Connections to MCP servers, reused across frames and closed on shutdown.
 * Server configs arrive with secret references already resolved.
 */
export interface McpClientFactory {
  callTool(
    server: ResolvedMcpServer,
    tool: string,
    args: Record<string, unknown>,
    options: { signal: AbortSignal; timeoutMs: number },
  ): Promise<McpToolResult>;
  listTools(server: ResolvedMcpServer, options: { signal: AbortSignal; timeoutMs: number }): Promise<McpToolInfo[]>;
  close(): Promise<void>;
}

export type ResolvedMcpServer =
  | { transport: "stdio"; command: string; args: string[]; env: Record<string, string>; cwd?: string }
  | { transport: "http"; url: string; headers: Record<string, string> };

export type { McpServerConfig };

export const FRAME_STATUSES = ["queued", "running", "succeeded", "failed", "denied", "cancelled"] as const;
export type FrameStatus = (typeof FRAME_STATUSES)[number];
export type RunStatus = FrameStatus;

export interface FrameError {
  code: string;
  message: string;
  retryable?: boolean;
  status?: number;
  details?: unknown;
}

export interface Attempt {
  attempt: number;
  /** LLM frames: the turn the request belonged to. */
  turn?: number;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  ok: boolean;
  error?: FrameError;
  /** Backoff slept after this attempt before the next one. */
  delayMs?: number;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface TraceToolCall {
  id: string;
  turn: number;
  name: string;
  kind: "loop" | "mcp" | "unknown";
  input: unknown;
  output: unknown;
  isError: boolean;
  childFrameId: string | null;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
}

export interface PromptVersionRef {
  version: number;
  /** Why this version ran: the active label, or a rollout bucket. */
  reason: string;
  rolloutId?: string;
}

/** A node of the Loop Stack Tree. */
export interface TraceFrame {
  id: string;
  runId: string;
  parentFrameId: string | null;
  parentToolCallId: string | null;
  depth: number;
  loop: { id: string; revision: number; type: LoopType; realm: string };
  prompt: PromptVersionRef | null;
  status: FrameStatus;
  attempts: Attempt[];
  input: unknown;
  output: unknown;
  error: FrameError | null;
  model: string | null;
  usage: TokenUsage;
  turns: number;
  toolCalls: TraceToolCall[];
  identity: Identity;
  authorization: AuthorizationDecision;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  children: TraceFrame[];
}

export interface RunResult {
  runId: string;
  status: RunStatus;
  output: unknown;
  error: FrameError | null;
  trace: TraceFrame;
}

export interface RegisteredLoop {
  id: string;
  realm: string;
  type: LoopType;
  description: string;
  revision: number;
  activePromptVersion: number | null;
  definition: LoopDefinition;
  createdAt: string;
  updatedAt: string;
}

export interface LoopRevision {
  loopId: string;
  revision: number;
  definition: LoopDefinition;
  hash: string;
  createdBy: string;
  createdAt: string;
}

export interface PromptVersion {
  loopId: string;
  version: number;
  systemPrompt: string;
  params: { model?: string; maxTokens?: number; temperature?: number };
  author: string;
  message: string;
  createdAt: string;
}
