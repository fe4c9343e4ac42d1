import { DispatchError } from "../retry";
import type { ModelMessage } from "../types";

/** The most tokens one call may report: counts are stored as 32-bit integers, and more is a broken report, not usage. */
const MAX_TOKEN_COUNT = 2_147_483_647;
const STOP_REASONS = ["end_turn", "tool_use", "max_tokens", "stop_sequence", "pause_turn", "refusal"] as const;
const STOP_REASON_SET: ReadonlySet<string> = new Set(STOP_REASONS);

export interface TextBlock {
  type: "text";
  text: string;
  [key: string]: unknown;
}
export interface ToolUseBlock {
  type: "tool_use";
  id: string;
  name: string;
  input: unknown;
  [key: string]: unknown;
}
export interface ThinkingBlock {
  type: "thinking" | "redacted_thinking";
  [key: string]: unknown;
}

/** A Messages API response as the runtime acts on it; blocks and usage keep fields it does not read. */
export interface ModelResponse {
  type: "message";
  role: "assistant";
  model?: string;
  content: (TextBlock | ToolUseBlock | ThinkingBlock)[];
  stop_reason: (typeof STOP_REASONS)[number];
  usage: { input_tokens: number; output_tokens: number; [key: string]: unknown };
}

/**
 * The response, once it has the shape every Messages API response must have before the runtime
 * acts on it; otherwise `model_response_invalid`, naming the first field that is wrong. Checked
 * by hand rather than with a schema library: every model call of every frame goes through it.
 */
export function parseResponse(raw: unknown): ModelResponse {
  const problem = responseProblem(raw);
  if (problem) throw new DispatchError("model_response_invalid", `The model returned a malformed response (${problem})`);
  return raw as ModelResponse;
}

/**
 * Refuses an answer that reuses a tool_use id from an earlier turn of the conversation: an id
 * names one tool call of the frame, and one tool result answers it.
 */
export function refuseReusedToolUseIds(response: ModelResponse, earlier: readonly ModelMessage[]): void {
  let used: Set<string> | null = null;
  for (const block of response.content) {
    if (block.type !== "tool_use") continue;
    used ??= toolUseIdsIn(earlier);
    if (used.has(block.id)) {
      throw new DispatchError("model_response_invalid", `The model returned a malformed response (tool_use id ${JSON.stringify(block.id)} was used in an earlier turn)`);
    }
  }
}

function toolUseIdsIn(messages: readonly ModelMessage[]): Set<string> {
  const ids = new Set<string>();
  for (const message of messages) {
    if (message.role !== "assistant" || !Array.isArray(message.content)) continue;
    for (const block of message.content) if (block.type === "tool_use") ids.add(block.id);
  }
  return ids;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isNonEmptyString(value: unknown): boolean {
  return typeof value === "string" && value.length > 0;
}

function responseProblem(raw: unknown): string | null {
  if (!isObject(raw)) return "body: expected an object";
  if (raw.type !== "message") return 'type: expected "message"';
  if (raw.role !== "assistant") return 'role: expected "assistant"';
  if (raw.model !== undefined && typeof raw.model !== "string") return "model: expected a string";
  if (!Array.isArray(raw.content)) return "content: expected an array";
  // Each tool result answers one id: two calls under one id could not both be answered.
  const toolUseIds = new Set<unknown>();
  for (let i = 0; i < raw.content.length; i++) {
    const block: unknown = raw.content[i];
    const problem = blockProblem(block);
    if (problem) return `content.${i}${problem}`;
    if ((block as { type: string }).type !== "tool_use") continue;
    const id = (block as { id: unknown }).id;
    if (toolUseIds.has(id)) return `content.${i}.id: ${JSON.stringify(id)} is the id of an earlier tool_use`;
    toolUseIds.add(id);
  }
  if (typeof raw.stop_reason !== "string" || !STOP_REASON_SET.has(raw.stop_reason)) return `stop_reason: expected one of ${STOP_REASONS.join(", ")}`;
  if (raw.stop_reason === "tool_use" && toolUseIds.size === 0) return "stop_reason: tool_use, but content has no tool_use block";
  if (!isObject(raw.usage)) return "usage: expected an object";
  for (const key of ["input_tokens", "output_tokens"]) {
    const count = raw.usage[key];
    if (typeof count !== "number" || !Number.isInteger(count) || count < 0 || count > MAX_TOKEN_COUNT) {
      return `usage.${key}: expected a whole number from 0 to ${MAX_TOKEN_COUNT}`;
    }
  }
  return null;
}

/** What is wrong with one content block, as a path suffix and a message; null when nothing is. */
function blockProblem(block: unknown): string | null {
  if (!isObject(block)) return ": expected an object";
  switch (block.type) {
    case "text":
      return typeof block.text === "string" ? null : ".text: expected a string";
    case "tool_use":
      if (!isNonEmptyString(block.id)) return ".id: expected a non-empty string";
      if (!isNonEmptyString(block.name)) return ".name: expected a non-empty string";
      return null;
    case "thinking":
    case "redacted_thinking":
      return null;
    default:
      return '.type: expected "text", "tool_use", "thinking" or "redacted_thinking"';
  }
}
