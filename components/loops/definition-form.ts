/**
 * The per-type registration form as plain values, and the definition they make. The form posts
 * that definition as JSON through the same action as the JSON/YAML editor, so the server's
 * validation and its errors at their path are shared. Numbers are kept as typed: an empty one
 * leaves the default, one that does not parse is sent as text so the server names the field.
 *
 * When editing, everything the form does not show (input schema, retry, limits, headers,
 * MCP tools of an LLM loop…) is carried over from the current definition.
 */

export const LOOP_TYPES = ["llm", "mcp", "http"] as const;
export type FormLoopType = (typeof LOOP_TYPES)[number];
export const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] as const;

export interface ToolRow {
  name: string;
  loopRef: string;
  description: string;
}

export interface DefinitionFormValues {
  id: string;
  realm: string;
  type: FormLoopType;
  description: string;
  llm: { model: string; systemPrompt: string; maxTokens: string; temperature: string; maxTurns: string; tools: ToolRow[] };
  mcp: { transport: "stdio" | "http"; command: string; args: string; url: string; tool: string };
  http: { method: string; url: string; timeoutMs: string };
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function record(value: unknown): Json {
  return isRecord(value) ? value : {};
}

function text(value: unknown): string {
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : "";
}

export function emptyToolRow(): ToolRow {
  return { name: "", loopRef: "", description: "" };
}

/** The form's starting values: from a definition being edited, or blank ones in `realm`. */
export function formValuesFromDefinition(definition: unknown, realm: string): DefinitionFormValues {
  const d = record(definition);
  const type = LOOP_TYPES.find((t) => t === d.type) ?? "llm";
  const llm = record(d.llm);
  const mcp = record(d.mcp);
  const server = record(mcp.server);
  const http = record(d.http);
  const tools = Array.isArray(llm.tools) ? llm.tools.filter(isRecord).filter((tool) => typeof tool.loopRef === "string") : [];
  return {
    id: text(d.id),
    realm: text(d.realm) || realm,
    type,
    description: text(d.description),
    llm: {
      model: text(llm.model),
      systemPrompt: text(llm.systemPrompt),
      maxTokens: text(llm.maxTokens),
      temperature: text(llm.temperature),
      maxTurns: text(llm.maxTurns),
      tools: tools.map((tool) => ({ name: text(tool.name), loopRef: text(tool.loopRef), description: text(tool.description) })),
    },
    mcp: {
      transport: server.transport === "http" ? "http" : "stdio",
      command: text(server.command),
      args: Array.isArray(server.args) ? server.args.map(text).join("\n") : "",
      url: text(server.url),
      tool: text(mcp.tool),
    },
    http: { method: text(http.method) || "POST", url: text(http.url), timeoutMs: text(http.timeoutMs) },
  };
}

/** A number field: a number when it parses, left out when empty, otherwise the text as typed. */
export function numberOrText(raw: string): number | string | undefined {
  const trimmed = raw.trim();
  if (trimmed === "") return undefined;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : trimmed;
}

/** `base` with `fields` written in; a field whose value is undefined is removed. */
function merge(base: Json, fields: Json): Json {
  const out = { ...base };
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) delete out[key];
    else out[key] = value;
  }
  return out;
}

function llmBlock(values: DefinitionFormValues["llm"], base: Json): Json {
  const rows = values.tools.filter((row) => row.name.trim() || row.loopRef.trim() || row.description.trim());
  const loopTools = rows.map((row) => merge({}, { name: row.name.trim(), ...(row.description.trim() ? { description: row.description } : {}), loopRef: row.loopRef.trim() }));
  // MCP tools have no rows in this form; they stay as the definition had them.
  const otherTools = Array.isArray(base.tools) ? base.tools.filter((tool) => !(isRecord(tool) && "loopRef" in tool)) : [];
  return merge(base, {
    model: values.model.trim(),
    systemPrompt: values.systemPrompt,
    maxTokens: numberOrText(values.maxTokens),
    temperature: numberOrText(values.temperature),
    maxTurns: numberOrText(values.maxTurns),
    tools: [...loopTools, ...otherTools],
  });
}

function mcpBlock(values: DefinitionFormValues["mcp"], base: Json): Json {
  const baseServer = record(base.server);
  // Environment, working directory or headers belong to one transport; keep them only if it stays.
  const keptServer = baseServer.transport === values.transport ? baseServer : {};
  const server =
    values.transport === "stdio"
      ? merge(keptServer, {
          transport: "stdio",
          command: values.command.trim(),
          args: values.args
            .split(/\r?\n/)
            .map((arg) => arg.trim())
            .filter(Boolean),
          url: undefined,
        })
      : merge(keptServer, { transport: "http", url: values.url.trim(), command: undefined, args: undefined });
  return merge(base, { server, tool: values.tool.trim() });
}

function httpBlock(values: DefinitionFormValues["http"], base: Json): Json {
  return merge(base, { method: values.method, url: values.url.trim(), timeoutMs: numberOrText(values.timeoutMs) });
}

/** The definition the form describes, over `base` (the definition being edited, if any). */
export function buildDefinition(values: DefinitionFormValues, base?: unknown): Json {
  const b = record(base);
  const sameType = b.type === values.type;
  const { llm, mcp, http, ...rest } = b;
  const typeBase = record(sameType ? { llm, mcp, http }[values.type] : undefined);
  const block =
    values.type === "llm" ? llmBlock(values.llm, typeBase) : values.type === "mcp" ? mcpBlock(values.mcp, typeBase) : httpBlock(values.http, typeBase);
  return merge(rest, {
    id: values.id.trim(),
    realm: values.realm,
    type: values.type,
    description: values.description,
    [values.type]: block,
  });
}
