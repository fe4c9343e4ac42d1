import { z } from "zod";
import { AppError, hasNul, NUL_MESSAGE, type AppErrorIssue } from "../errors";
import { CLIENT_HEADERS, HEADER_NAME, INVALID_HEADER_VALUE, trimHeaderValue } from "./http-headers";
import { urlTemplateProblem } from "./template";

const slug = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, "use lower-case letters, digits, '.', '_' or '-', starting with a letter or digit");

const toolName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-zA-Z0-9_-]+$/, "tool names may use letters, digits, '_' and '-' (the Messages API rule)");

/** A JSON Schema document (validated structurally when the loop is registered). */
const jsonSchema = z.record(z.string(), z.unknown());

/**
 * A header or environment value: a literal, or a reference to a secret that is resolved at
 * dispatch time and never stored in a definition, a trace, a log or an export.
 */
export const secretRefSchema = z.object({ secret: z.string().min(1).max(200) }).strict();
const valueOrSecret = z.union([z.string(), secretRefSchema]);

/**
 * Headers an HTTP loop or an MCP server over HTTP sends: names that are HTTP tokens and not the
 * client's own, literal values it could send. A value with a placeholder is checked once rendered.
 */
const httpHeadersSchema = z
  .record(
    z
      .string()
      .regex(HEADER_NAME, "must be an HTTP header name")
      .refine((name) => !CLIENT_HEADERS.has(name.toLowerCase()), "is set by the HTTP client, not by a loop"),
    z.union([
      z.string().refine((value) => value.includes("{{") || !INVALID_HEADER_VALUE.test(trimHeaderValue(value)), "must be visible Latin-1 text"),
      secretRefSchema,
    ]),
  )
  .default({});

export const retryPolicySchema = z
  .object({
    maxAttempts: z.number().int().min(1).max(10).default(3),
    initialDelayMs: z.number().int().min(0).max(60_000).default(200),
    maxDelayMs: z.number().int().min(0).max(300_000).default(5_000),
    multiplier: z.number().min(1).max(10).default(2),
  })
  .strict();

export const limitsSchema = z
  .object({
    /** Wall-clock budget for the whole frame, children included. Not retried. */
    timeoutMs: z.number().int().min(10).max(24 * 3_600_000).default(120_000),
    /** Frames deeper than this fail before dispatch; guards self-recursion. */
    maxDepth: z.number().int().min(0).max(64).default(8),
  })
  .strict();

export const mcpServerSchema = z.discriminatedUnion("transport", [
  z
    .object({
      transport: z.literal("stdio"),
      command: z.string().min(1),
      args: z.array(z.string()).default([]),
      env: z.record(z.string(), valueOrSecret).default({}),
      cwd: z.string().optional(),
    })
    .strict(),
  z
    .object({
      transport: z.literal("http"),
      url: z.url(),
      headers: httpHeadersSchema,
    })
    .strict(),
]);

const loopRefToolSchema = z
  .object({
    name: toolName,
    description: z.string().max(4_000).optional(),
    loopRef: slug,
  })
  .strict();

const mcpToolSchema = z
  .object({
    name: toolName,
    description: z.string().max(4_000).optional(),
    mcp: z.object({ server: mcpServerSchema, tool: z.string().min(1), inputSchema: jsonSchema.optional() }).strict(),
  })
  .strict();

export const toolSchema = z.union([loopRefToolSchema, mcpToolSchema]);

export const llmConfigSchema = z
  .object({
    model: z.string().min(1).max(200),
    systemPrompt: z.string().max(200_000).default(""),
    maxTokens: z.number().int().min(1).max(128_000).default(1024),
    temperature: z.number().min(0).max(1).optional(),
    maxTurns: z.number().int().min(1).max(100).default(8),
    /** Per model request; a request that exceeds it is retried like a connection error. */
    requestTimeoutMs: z.number().int().min(10).max(600_000).default(60_000),
    tools: z.array(toolSchema).max(64).default([]),
  })
  .strict();

export const mcpConfigSchema = z
  .object({
    server: mcpServerSchema,
    tool: z.string().min(1),
    /** Per tool call; exceeded calls are retried. */
    timeoutMs: z.number().int().min(10).max(600_000).default(30_000),
  })
  .strict();

export const httpConfigSchema = z
  .object({
    method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]).default("POST"),
    /** `{{input.path}}` placeholders are filled from the input and URL-encoded; only after the host and port. */
    url: z
      .string()
      .min(1)
      .max(4_000)
      .superRefine((template, ctx) => {
        // An empty URL is reported once, by min(1).
        const problem = template === "" ? null : urlTemplateProblem(template);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      }),
    headers: httpHeadersSchema,
    /** A JSON value whose strings may hold `{{input.path}}` placeholders; omitted: the input itself. */
    body: z.unknown().optional(),
    timeoutMs: z.number().int().min(10).max(600_000).default(30_000),
    response: z
      .object({
        type: z.enum(["json", "text"]).default("json"),
        /** Dotted path into the JSON response to return as the output. */
        pick: z.string().optional(),
      })
      .strict()
      .default({ type: "json" }),
  })
  .strict();

const baseFields = {
  id: slug,
  realm: slug,
  description: z.string().max(4_000).default(""),
  inputSchema: jsonSchema.optional(),
  outputSchema: jsonSchema.optional(),
  retry: retryPolicySchema.default(retryPolicySchema.parse({})),
  limits: limitsSchema.default(limitsSchema.parse({})),
};

export const loopDefinitionSchema = z.discriminatedUnion("type", [
  z.object({ ...baseFields, type: z.literal("llm"), llm: llmConfigSchema }).strict(),
  z.object({ ...baseFields, type: z.literal("mcp"), mcp: mcpConfigSchema }).strict(),
  z.object({ ...baseFields, type: z.literal("http"), http: httpConfigSchema }).strict(),
]);

/** What callers write (defaults optional). */
export type LoopDefinitionInput = z.input<typeof loopDefinitionSchema>;
/** What the runtime stores and executes (defaults filled in). */
export type LoopDefinition = z.output<typeof loopDefinitionSchema>;
export type LlmLoopDefinition = Extract<LoopDefinition, { type: "llm" }>;
export type McpLoopDefinition = Extract<LoopDefinition, { type: "mcp" }>;
export type HttpLoopDefinition = Extract<LoopDefinition, { type: "http" }>;
export type LoopType = LoopDefinition["type"];
export type ToolDefinition = z.output<typeof toolSchema>;
export type McpServerConfig = z.output<typeof mcpServerSchema>;
export type SecretRef = z.output<typeof secretRefSchema>;
export type RetryPolicy = z.output<typeof retryPolicySchema>;

export function isLoopRefTool(tool: ToolDefinition): tool is Extract<ToolDefinition, { loopRef: string }> {
  return "loopRef" in tool;
}

export function toIssues(error: z.ZodError): AppErrorIssue[] {
  return error.issues.map((issue) => ({
    path: formatPath(issue.path),
    // A record key that fails its own checks says why, not only that the key is invalid.
    message: issue.code === "invalid_key" && issue.issues[0] ? `key ${issue.issues[0].message}` : issue.message,
  }));
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, i) => (typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`))
    .join("");
}

/**
 * Text in a definition that no database column can store, wherever it is (a prompt, a schema, a
 * template, a key): each with its path. Walked without recursion, as a schema may nest deeply,
 * and each object once.
 */
function nulIssues(input: unknown): AppErrorIssue[] {
  const issues: AppErrorIssue[] = [];
  const stack: [unknown, PropertyKey[]][] = [[input, []]];
  const seen = new Set<object>();
  while (stack.length > 0 && issues.length < 20) {
    const [value, path] = stack.pop()!;
    if (value !== null && typeof value === "object") {
      if (seen.has(value)) continue;
      seen.add(value);
    }
    if (typeof value === "string") {
      if (hasNul(value)) issues.push({ path: formatPath(path), message: NUL_MESSAGE });
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => stack.push([item, [...path, i]]));
    } else if (value !== null && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) {
        if (hasNul(key)) issues.push({ path: formatPath([...path, key]), message: `key ${NUL_MESSAGE}` });
        stack.push([item, [...path, key]]);
      }
    }
  }
  return issues.reverse();
}

/**
 * Parses a definition and reports every problem at once, each with its path, e.g.
 * `llm.tools[1].loopRef: Required`.
 */
export function parseLoopDefinition(input: unknown): LoopDefinition {
  const parsed = loopDefinitionSchema.safeParse(input);
  const nul = nulIssues(input);
  if (!parsed.success || nul.length > 0) {
    const issues = [...(parsed.success ? [] : toIssues(parsed.error)), ...nul];
    throw new AppError("invalid_definition", `Invalid loop definition:\n${issues.map((i) => `  ${i.path || "(root)"}: ${i.message}`).join("\n")}`, { issues });
  }
  const definition = parsed.data;
  const issues: AppErrorIssue[] = [];
  if (definition.type === "llm") {
    const seen = new Set<string>();
    definition.llm.tools.forEach((tool, i) => {
      if (seen.has(tool.name)) issues.push({ path: `llm.tools[${i}].name`, message: `duplicate tool name "${tool.name}"` });
      seen.add(tool.name);
    });
  }
  if (issues.length > 0) {
    throw new AppError("invalid_definition", `Invalid loop definition:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`, { issues });
  }
  return definition;
}
