/** What one call to the scripted model answers. Every kind may carry its own latency. */
export type ScriptStep = (
  | { text: string; stopReason?: "end_turn" | "max_tokens" | "stop_sequence" }
  | { toolUses: { name: string; input: unknown; id?: string }[]; text?: string }
  | { error: ScriptedError }
  | { malformed: "not-json" | "missing-content" | "bad-stop-reason" | "absurd-usage" }
  | { hang: true }
  /** The connection fails mid-answer: headers and then nothing, or half the body and then a closed socket. */
  | { broken: "stall-after-headers" | "cut-mid-body" }
) & { latencyMs?: number };

export interface ScriptedError {
  status: number;
  /** Defaults by status, as the real API names them: 429 → `rate_limit_error`, 529 → `overloaded_error`… */
  type?: string;
  message?: string;
  /** Sent as `retry-after`; a 429 always carries one. */
  retryAfterSeconds?: number;
}

/** A validated `POST /v1/messages` body, loosely typed: content may hold any block kind. */
export interface ScriptedRequest {
  model: string;
  max_tokens: number;
  system?: string | { type: string; text?: string }[];
  messages: { role: "user" | "assistant"; content: string | ContentBlock[] }[];
  tools?: { name: string; description?: string; input_schema?: JsonSchema }[];
  stream?: boolean;
  [key: string]: unknown;
}

export interface ContentBlock {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: string | ContentBlock[];
  is_error?: boolean;
}

export interface ScriptContext {
  loopId: string | null;
  frameId: string | null;
  /** 0 for the first call of this conversation, counting failed attempts too. */
  callIndex: number;
  /** Number of assistant messages in the request: 0 on the first turn. */
  turn: number;
}

export type ScriptFunction = (request: ScriptedRequest, context: ScriptContext) => ScriptStep | Promise<ScriptStep>;

/** Steps are consumed one per call of a conversation; the last one repeats. */
export type Script = { steps: ScriptStep[]; latencyMs?: number } | ScriptFunction;

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  [key: string]: unknown;
}

const DIGEST_CHARS = 200;

/**
 * The default behaviour, so that any loop runs without an API key: call every offered tool
 * once, then end the turn with a reply that says plainly it came from a script.
 */
export const autoScript: ScriptFunction = (request, context) => {
  const last = request.messages.at(-1);
  const results = last && typeof last.content !== "string" ? last.content.filter((b) => b.type === "tool_result") : [];
  const tools = request.tools ?? [];
  if (tools.length > 0 && results.length === 0) {
    const text = userText(request);
    return { toolUses: tools.map((tool) => ({ name: tool.name, input: inputFromSchema(tool.input_schema, text) })) };
  }
  const names = toolNamesById(request);
  const digest = results.map((r) => {
    const name = (r.tool_use_id && names.get(r.tool_use_id)) ?? r.tool_use_id ?? "tool";
    return `\n- ${name}${r.is_error ? " (error)" : ""}: ${blockText(r.content).slice(0, DIGEST_CHARS)}`;
  });
  return { text: `[scripted model] ${request.model} answered turn ${context.turn + 1}${digest.join("")}` };
};

/** Arguments that satisfy a tool's required properties, so child loops get valid input. */
export function inputFromSchema(schema: JsonSchema | undefined, text: string): Record<string, unknown> {
  const required = schema?.required ?? [];
  if (required.length === 0) return { query: text.slice(0, DIGEST_CHARS) };
  const input: Record<string, unknown> = {};
  for (const name of required) input[name] = sampleValue(schema?.properties?.[name], text);
  return input;
}

function sampleValue(schema: JsonSchema | undefined, text: string): unknown {
  if (schema?.enum && schema.enum.length > 0) return schema.enum[0];
  const type = Array.isArray(schema?.type) ? schema.type[0] : schema?.type;
  switch (type) {
    case "number":
    case "integer":
      return 1;
    case "boolean":
      return true;
    case "object":
      return {};
    case "array":
      return [];
    case "null":
      return null;
    default:
      return text;
  }
}

/** The text of the latest user message that has any, else of the first one. */
function userText(request: ScriptedRequest): string {
  const users = request.messages.filter((m) => m.role === "user");
  for (const message of users.toReversed()) {
    const text = blockText(message.content);
    if (text) return text;
  }
  return "";
}

function blockText(content: string | ContentBlock[] | undefined): string {
  if (content === undefined) return "";
  if (typeof content === "string") return content;
  return content
    .filter((b) => b.type === "text" && typeof b.text === "string")
    .map((b) => b.text)
    .join("\n");
}

function toolNamesById(request: ScriptedRequest): Map<string, string> {
  const names = new Map<string, string>();
  for (const message of request.messages) {
    if (typeof message.content === "string") continue;
    for (const block of message.content) {
      if (block.type === "tool_use" && block.id && block.name) names.set(block.id, block.name);
    }
  }
  return names;
}
