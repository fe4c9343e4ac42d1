import { isLoopRefTool, type LlmLoopDefinition, type ToolDefinition } from "../definition";
import type { DispatchContext, DispatchOutcome } from "../dispatch";
import { DispatchError, round, toDispatchError, withRetry } from "../retry";
import type { NewToolCall, RuntimeStore, SavedTurn, ToolCallPatch } from "../store";
import type {
  FrameError,
  ModelClient,
  ModelContentBlock,
  ModelMessage,
  ModelRequest,
  PromptVersion,
  RegisteredLoop,
  TokenUsage,
} from "../types";
import { redactError, redactSecrets } from "../redact";
import { mcpResultToOutput, resolvedSecretValues, resolveMcpServer } from "./mcp";
import { parseResponse, refuseReusedToolUseIds, type ModelResponse } from "./model-response";

/** Budget for an MCP tool offered directly to the model (listing and calling). */
export const MCP_TOOL_TIMEOUT_MS = 30_000;

export interface ChildOutcome {
  status: string;
  output: unknown;
  error: FrameError | null;
}

/** What the executor lends the LLM dispatcher: child frames, persistence, the model. */
export interface LlmHost {
  store: RuntimeStore;
  model: ModelClient;
  newId(): string;
  /** Runs a child frame for a `loopRef` tool, authorized with the original caller's identity. */
  runChild(request: { frameId: string; loopId: string; input: unknown; toolUseId: string }): Promise<ChildOutcome>;
  onUsage(usage: TokenUsage, turn: number): void;
}

export interface LlmFrame {
  loop: RegisteredLoop & { definition: LlmLoopDefinition };
  prompt: PromptVersion | null;
  input: unknown;
  /** Turns saved by an earlier attempt at this frame (resume after a crash). */
  savedTurns: SavedTurn[];
}

export interface ToolBinding {
  tool: ToolDefinition;
  inputSchema: Record<string, unknown>;
  description: string;
}

const ANY_OBJECT_SCHEMA = { type: "object", additionalProperties: true };

/** Anthropic requires tool input schemas to be objects at the top level. */
function asToolInputSchema(schema: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!schema) return ANY_OBJECT_SCHEMA;
  return schema.type === "object" ? schema : ANY_OBJECT_SCHEMA;
}

export function renderUserMessage(input: unknown): string {
  if (typeof input === "string") return input;
  return JSON.stringify(input ?? null, null, 2);
}

export function toolResultText(value: unknown): string {
  if (typeof value === "string") return value;
  return JSON.stringify(value ?? null);
}

/** Extracts the final answer; with an output schema the text must be JSON (optionally fenced). */
export function finalOutput(text: string, hasOutputSchema: boolean): unknown {
  if (!hasOutputSchema) return text;
  const fenced = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/.exec(text);
  try {
    return JSON.parse(fenced ? fenced[1]! : text);
  } catch {
    throw new DispatchError("invalid_output", "The model's final answer is not the JSON the loop's output schema requires", {
      details: { text: text.slice(0, 2000) },
    });
  }
}

export async function bindTools(frame: LlmFrame, host: { store: Pick<RuntimeStore, "getLoop"> }, ctx: DispatchContext): Promise<Map<string, ToolBinding>> {
  // The tools' loops and tool lists are read together, not one after another.
  const bindings = await Promise.all(
    frame.loop.definition.llm.tools.map(async (tool): Promise<[string, ToolBinding]> => {
      if (isLoopRefTool(tool)) {
        const child = tool.loopRef === frame.loop.id ? frame.loop : await host.store.getLoop(tool.loopRef);
        return [
          tool.name,
          {
            tool,
            inputSchema: asToolInputSchema(child?.definition.inputSchema),
            description: tool.description ?? (child?.description || `Runs the loop ${tool.loopRef}`),
          },
        ];
      }
      let schema = tool.mcp.inputSchema;
      if (!schema) {
        const server = resolveMcpServer(tool.mcp.server, ctx.secrets, ctx.realm);
        let listed: Awaited<ReturnType<DispatchContext["mcp"]["listTools"]>>;
        try {
          listed = await ctx.mcp.listTools(server, { signal: ctx.signal, timeoutMs: MCP_TOOL_TIMEOUT_MS });
        } catch (error) {
          // A server that fails may echo a header or variable (its stderr, a response body): secret values never reach the trace.
          if (ctx.signal.aborted) throw error;
          throw redactError(toDispatchError(error), resolvedSecretValues(tool.mcp.server, server));
        }
        schema = listed.find((t) => t.name === tool.mcp.tool)?.inputSchema;
      }
      return [tool.name, { tool, inputSchema: asToolInputSchema(schema), description: tool.description ?? `MCP tool ${tool.mcp.tool}` }];
    }),
  );
  return new Map(bindings);
}

/**
 * The Messages API tool loop. Each `tool_use` naming a loopRef tool becomes a child frame;
 * several in one turn run concurrently. The conversation is saved after every turn.
 */
export async function dispatchLlm(frame: LlmFrame, host: LlmHost, ctx: DispatchContext): Promise<DispatchOutcome & { turns: number; model: string }> {
  const { definition } = frame.loop;
  const params = frame.prompt?.params ?? {};
  const model = params.model ?? definition.llm.model;
  const maxTokens = params.maxTokens ?? definition.llm.maxTokens;
  const temperature = params.temperature ?? definition.llm.temperature;
  const system = frame.prompt?.systemPrompt ?? definition.llm.systemPrompt;
  const bindings = await bindTools(frame, host, ctx);
  const tools = [...bindings.entries()].map(([name, b]) => ({ name, description: b.description, input_schema: b.inputSchema }));

  const messages: ModelMessage[] = [{ role: "user", content: renderUserMessage(frame.input) }];
  for (const saved of frame.savedTurns) messages.push(...(saved.messages as ModelMessage[]));
  const last = frame.savedTurns.at(-1);
  if (last && last.stopReason !== "tool_use") {
    // The frame had finished its conversation before it was interrupted.
    const assistant = last.messages[0] as ModelMessage;
    const text = Array.isArray(assistant.content) ? assistant.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("") : assistant.content;
    return { output: finalOutput(text, definition.outputSchema !== undefined), turns: last.turn, model };
  }

  for (let turn = frame.savedTurns.length + 1; turn <= definition.llm.maxTurns; turn++) {
    const request: ModelRequest = {
      model,
      max_tokens: maxTokens,
      messages,
      ...(system ? { system } : {}),
      ...(temperature !== undefined ? { temperature } : {}),
      ...(tools.length > 0 ? { tools } : {}),
    };
    const response = await withRetry(
      () => requestAnswer(host.model, request, { signal: ctx.signal, timeoutMs: definition.llm.requestTimeoutMs, loopId: frame.loop.id, frameId: ctx.frameId }),
      { policy: definition.retry, signal: ctx.signal, clock: ctx.clock, onAttempt: ctx.recordAttempt, turn },
    );
    const usage = { inputTokens: response.usage.input_tokens, outputTokens: response.usage.output_tokens };
    host.onUsage(usage, turn);
    const assistant: ModelMessage = { role: "assistant", content: response.content as ModelContentBlock[] };
    messages.push(assistant);

    if (response.stop_reason !== "tool_use") {
      await host.store.saveTurn(ctx.frameId, { turn, messages: [assistant], stopReason: response.stop_reason, ...usage }, ctx.clock.now());
      const text = response.content.flatMap((b) => (b.type === "text" ? [(b as { text: string }).text] : [])).join("");
      return { output: finalOutput(text, definition.outputSchema !== undefined), turns: turn, model };
    }

    // requestAnswer made sure there is at least one.
    const toolUses = response.content.filter((b): b is Extract<typeof b, { type: "tool_use" }> => b.type === "tool_use");
    const results = await Promise.all(toolUses.map((use, position) => runToolUse(use, turn, position, bindings, host, ctx)));
    const toolResults: ModelMessage = { role: "user", content: results };
    messages.push(toolResults);
    await host.store.saveTurn(ctx.frameId, { turn, messages: [assistant, toolResults], stopReason: "tool_use", ...usage }, ctx.clock.now());
  }
  throw new DispatchError("max_turns_exceeded", `No final answer after ${definition.llm.maxTurns} turns (llm.maxTurns)`);
}

/**
 * One attempt at a turn: the model's answer, checked within the attempt (an answer the runtime
 * cannot act on is that attempt's failure), in the in-process and the cluster engine alike.
 */
export async function requestAnswer(
  model: ModelClient,
  request: ModelRequest,
  options: { signal: AbortSignal; timeoutMs: number; loopId: string; frameId: string },
): Promise<ModelResponse> {
  const answer = parseResponse(
    await model.createMessage(request, {
      signal: options.signal,
      timeoutMs: options.timeoutMs,
      headers: { "x-loopstacks-loop-id": options.loopId, "x-loopstacks-frame-id": options.frameId },
    }),
  );
  refuseReusedToolUseIds(answer, request.messages);
  return answer;
}

async function runToolUse(
  use: { id: string; name: string; input: unknown },
  turn: number,
  position: number,
  bindings: Map<string, ToolBinding>,
  host: LlmHost,
  ctx: DispatchContext,
): Promise<ModelContentBlock> {
  const binding = bindings.get(use.name);
  const startedAt = ctx.clock.now();
  const t0 = performance.now();
  const base: Omit<NewToolCall, "kind" | "childFrameId"> = { frameId: ctx.frameId, id: use.id, runId: ctx.runId, turn, position, name: use.name, input: use.input, startedAt };
  const finish = async (content: string, isError: boolean, output: unknown): Promise<ModelContentBlock> => {
    const patch: ToolCallPatch = { output, isError, endedAt: ctx.clock.now(), durationMs: round(performance.now() - t0) };
    await host.store.finishToolCall(ctx.frameId, use.id, patch);
    return { type: "tool_result", tool_use_id: use.id, content, ...(isError ? { is_error: true } : {}) };
  };

  if (!binding) {
    await host.store.insertToolCall({ ...base, kind: "unknown", childFrameId: null });
    const message = `Unknown tool "${use.name}". Available tools: ${[...bindings.keys()].join(", ") || "none"}`;
    return finish(message, true, { error: { code: "unknown_tool", message } });
  }
  const { tool } = binding;
  if (isLoopRefTool(tool)) {
    const childFrameId = host.newId();
    await host.store.insertToolCall({ ...base, kind: "loop", childFrameId });
    const child = await host.runChild({ frameId: childFrameId, loopId: tool.loopRef, input: use.input, toolUseId: use.id });
    if (child.status === "succeeded") return finish(toolResultText(child.output), false, child.output);
    const error = child.error ?? { code: child.status, message: `Child loop ${tool.loopRef} ${child.status}` };
    return finish(`${error.code}: ${error.message}`, true, { error });
  }
  await host.store.insertToolCall({ ...base, kind: "mcp", childFrameId: null });
  if (use.input === null || typeof use.input !== "object" || Array.isArray(use.input)) {
    return finish("Tool input must be a JSON object", true, { error: { code: "invalid_input", message: "Tool input must be a JSON object" } });
  }
  let secrets: string[] = [];
  try {
    const server = resolveMcpServer(tool.mcp.server, ctx.secrets, ctx.realm);
    secrets = resolvedSecretValues(tool.mcp.server, server);
    const result = await ctx.mcp.callTool(server, tool.mcp.tool, use.input as Record<string, unknown>, { signal: ctx.signal, timeoutMs: MCP_TOOL_TIMEOUT_MS });
    // The server may echo a header or variable back: its secret values never reach the trace or the model.
    const output = redactSecrets(mcpResultToOutput(result), secrets);
    return finish(toolResultText(output), result.isError === true, output);
  } catch (caught) {
    if (ctx.signal.aborted) {
      // The frame ends with its signal's reason; its call ends with it rather than staying open.
      const reason = toDispatchError(ctx.signal.reason).toFrameError();
      await finish(`${reason.code}: ${reason.message}`, true, { error: reason });
      throw caught;
    }
    const error = redactSecrets(caught instanceof DispatchError ? caught.toFrameError() : { code: "tool_error", message: String(caught) }, secrets);
    return finish(`${error.code}: ${error.message}`, true, { error });
  }
}
