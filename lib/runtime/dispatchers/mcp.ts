import type { McpLoopDefinition, McpServerConfig, SecretRef } from "../definition";
import type { DispatchContext, DispatchOutcome } from "../dispatch";
import { DispatchError, isAbortError, toDispatchError, withRetry } from "../retry";
import type { McpToolResult, ResolvedMcpServer, SecretResolver } from "../types";
import { redactError, redactSecrets } from "../redact";

/**
 * Calls the loop's MCP tool with the loop's input as its arguments. Secrets in the server's
 * env or headers are resolved here, at dispatch time, and every resolved value is scrubbed
 * from the output, errors and attempts: a server may echo its environment or a header back,
 * and what this returns ends up in traces and exports.
 */
export async function dispatchMcp(definition: McpLoopDefinition, input: unknown, ctx: DispatchContext): Promise<DispatchOutcome> {
  const { mcp } = definition;
  const args = toolArguments(input);
  const server = resolveMcpServer(mcp.server, ctx.secrets, ctx.realm);
  const secretValues = resolvedSecretValues(mcp.server, server);
  const redact = <T>(value: T): T => redactSecrets(value, secretValues);

  const result = await withRetry(
    async () => {
      try {
        const result = await ctx.mcp.callTool(server, mcp.tool, args, { signal: ctx.signal, timeoutMs: mcp.timeoutMs });
        if (result.isError) {
          throw new DispatchError("tool_error", contentText(result.content) || `MCP tool "${mcp.tool}" reported an error`, {
            retryable: false,
            details: { content: result.content },
          });
        }
        return result;
      } catch (error) {
        if (ctx.signal.aborted || isAbortError(error)) throw error;
        throw redactError(toDispatchError(error), secretValues);
      }
    },
    { policy: definition.retry, signal: ctx.signal, clock: ctx.clock, onAttempt: ctx.recordAttempt },
  );
  return { output: redact(mcpResultToOutput(result)) };
}

/**
 * Replaces `{ secret: NAME }` references in env and headers with their values, as available to
 * `realm`. Fails with `secret_missing`, naming the secret, when one cannot be resolved.
 */
export function resolveMcpServer(config: McpServerConfig, secrets: SecretResolver, realm: string): ResolvedMcpServer {
  if (config.transport === "stdio") {
    return {
      transport: "stdio",
      command: config.command,
      args: [...config.args],
      env: resolveValues(config.env, secrets, realm, "env"),
      ...(config.cwd !== undefined ? { cwd: config.cwd } : {}),
    };
  }
  return { transport: "http", url: config.url, headers: resolveValues(config.headers, secrets, realm, "headers") };
}

/**
 * A tool result as a frame output: the structured content when the tool gives one, the
 * text when every block is text (an empty result gives ""), otherwise the content blocks.
 */
export function mcpResultToOutput(result: McpToolResult): unknown {
  if (result.structuredContent !== undefined) return result.structuredContent;
  if (result.content.every(isTextBlock)) return result.content.map((block) => block.text).join("\n");
  return result.content;
}

/** The values that came from secret references, so they can be scrubbed from whatever the server sends back. */
export function resolvedSecretValues(config: McpServerConfig, server: ResolvedMcpServer): string[] {
  const refs = config.transport === "stdio" ? config.env : config.headers;
  const values = server.transport === "stdio" ? server.env : server.headers;
  return Object.entries(refs).flatMap(([name, value]) => (isSecretRef(value) && values[name] !== undefined ? [values[name]] : []));
}

function toolArguments(input: unknown): Record<string, unknown> {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new DispatchError("invalid_input", "An MCP loop's input becomes the tool's arguments, so it must be a JSON object", {
      retryable: false,
    });
  }
  return input as Record<string, unknown>;
}

function resolveValues(values: Record<string, string | SecretRef>, secrets: SecretResolver, realm: string, where: "env" | "headers"): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    if (!isSecretRef(value)) {
      resolved[name] = value;
      continue;
    }
    const secret = secrets.resolve(value.secret, realm);
    if (secret === undefined) {
      throw new DispatchError("secret_missing", `Secret "${value.secret}" (MCP server ${where} "${name}") is not set for realm ${realm}`, { retryable: false });
    }
    resolved[name] = secret;
  }
  return resolved;
}

function isSecretRef(value: string | SecretRef): value is SecretRef {
  return typeof value === "object";
}

function isTextBlock(block: unknown): block is { type: "text"; text: string } {
  return (
    block !== null &&
    typeof block === "object" &&
    "type" in block &&
    block.type === "text" &&
    "text" in block &&
    typeof block.text === "string"
  );
}

function contentText(content: readonly unknown[]): string {
  return content.filter(isTextBlock).map((block) => block.text).join("\n");
}

