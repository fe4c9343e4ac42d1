import { randomUUID } from "node:crypto";
import { AppError } from "../errors";
import type { LlmLoopDefinition } from "./definition";
import type { DispatchContext } from "./dispatch";
import { dispatchHttp } from "./dispatchers/http";
import { dispatchLlm } from "./dispatchers/llm";
import { dispatchMcp } from "./dispatchers/mcp";
import type { SchemaValidator } from "./json-schema";
import { DispatchError, frameTimeoutError, toDispatchError } from "./retry";
import { createTraceWriter } from "./trace-writer";
import type { RuntimeStore } from "./store";
import type {
  Attempt,
  Authorizer,
  Clock,
  FetchLike,
  FrameError,
  FrameStatus,
  Identity,
  McpClientFactory,
  ModelClient,
  PromptVersion,
  RegisteredLoop,
  RunResult,
  SecretResolver,
} from "./types";

export interface ExecutorDeps {
  store: RuntimeStore;
  model: ModelClient;
  mcp: McpClientFactory;
  fetch: FetchLike;
  clock: Clock;
  authorizer: Authorizer;
  secrets: SecretResolver;
  validator: SchemaValidator;
  newId?: () => string;
  /** Largest accepted run input, in bytes of JSON. */
  maxInputBytes?: number;
  /** Called after a frame succeeds (evaluator loops); must return at once and never throw. */
  onFrameSucceeded?: (frame: SucceededFrame) => void;
}

export interface SucceededFrame {
  runId: string;
  frameId: string;
  loopId: string;
  realm: string;
  promptVersion: number | null;
  input: unknown;
  output: unknown;
  identity: Identity;
  /** False when the frame's loop is known to have no evaluator loops, so nothing need be read. */
  hasEvaluators?: boolean;
}

export interface RunOptions {
  identity: Identity;
  /** Aborting it cancels the run and every frame in it. */
  signal?: AbortSignal;
  /** Deadline for the whole run. */
  timeoutMs?: number;
  /** Runs this prompt version for every frame of `loopId` in the run (a replay), instead of the active one. */
  promptOverride?: { loopId: string; version: number };
}

export interface StartedRun {
  runId: string;
  /** Settles when the run ends; never rejects for a failed run (see `status`). */
  done: Promise<RunResult>;
}

export interface Executor {
  /** Runs a loop to completion: `{ runId, status, output, error, trace }`. */
  run(loopId: string, input: unknown, options: RunOptions): Promise<RunResult>;
  /** Starts a run and returns once it is recorded, for callers that do not wait. */
  start(loopId: string, input: unknown, options: RunOptions): Promise<StartedRun>;
  /** Cancels a run executing in this process; false when it is not running here. */
  cancel(runId: string, reason?: string): boolean;
  /** Resolves when every run started by this executor has ended. */
  drain(): Promise<void>;
}

interface RunState {
  id: string;
  identity: Identity;
  promptOverride: RunOptions["promptOverride"];
  controller: AbortController;
  seq: number;
  frames: number;
  inputTokens: number;
  outputTokens: number;
  /**
   * The store as this run's frames see it: each loop's revision is resolved the first time the
   * run reaches the loop, so every frame of one loop in a run runs the same revision. Prompt
   * versions and authorization are still read for every frame.
   */
  store: RuntimeStore;
}

interface FrameRequest {
  frameId: string;
  loop: RegisteredLoop | null;
  loopId: string;
  input: unknown;
  parentFrameId: string | null;
  parentToolCallId: string | null;
  depth: number;
  parentSignal: AbortSignal;
}

interface FrameOutcome {
  frameId: string;
  status: FrameStatus;
  output: unknown;
  error: FrameError | null;
}

const DEFAULT_MAX_INPUT_BYTES = 1024 * 1024;

export function createExecutor(deps: ExecutorDeps): Executor {
  const { clock, authorizer, validator } = deps;
  const writer = createTraceWriter(deps.store, (error) => console.error("Writing the trace failed; retrying:", error));
  // The executor's view of the store: frame and tool-call rows go through the batch writer;
  // a saved turn travels with them; a trace read first waits for them.
  const store: RuntimeStore = {
    ...deps.store,
    insertFrame: async (frame) => writer.insertFrame(frame),
    updateFrame: async (frameId, patch) => writer.updateFrame(frameId, patch),
    insertToolCall: async (call) => writer.insertToolCall(call),
    finishToolCall: async (frameId, id, patch) => writer.finishToolCall(frameId, id, patch),
    saveTurn: (frameId, turn, createdAt) => writer.saveTurn(frameId, turn, createdAt),
    getTrace: async (runId) => {
      await writer.flush();
      return deps.store.getTrace(runId);
    },
  };
  const newId = deps.newId ?? randomUUID;
  const maxInputBytes = deps.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES;
  const active = new Map<string, { state: RunState; done: Promise<RunResult> }>();

  async function executeFrame(run: RunState, req: FrameRequest): Promise<FrameOutcome> {
    const seq = run.seq++;
    run.frames++;
    const createdAt = clock.now();
    const fail = (status: FrameStatus, error: FrameError): FrameOutcome => ({ frameId: req.frameId, status, output: null, error });

    const loop = req.loop ?? (await run.store.getLoop(req.loopId));
    if (!loop) {
      // Nothing to attribute the frame to: the tool call in the parent carries the error.
      return fail("failed", { code: "loop_not_found", message: `Loop "${req.loopId}" does not exist` });
    }
    const definition = loop.definition;
    const decision = await authorizer.authorize({ identity: run.identity, realm: loop.realm, action: "invoke", loopId: loop.id });
    const override = run.promptOverride?.loopId === loop.id ? { version: run.promptOverride.version } : {};
    const resolved = definition.type === "llm" ? await store.resolvePrompt(loop.id, { subject: run.identity.subject, input: req.input, ...override }) : null;
    const prompt: PromptVersion | null = resolved?.prompt ?? null;
    const frameBase = {
      id: req.frameId,
      runId: run.id,
      parentFrameId: req.parentFrameId,
      parentToolCallId: req.parentToolCallId,
      depth: req.depth,
      seq,
      realmId: loop.realm,
      loopId: loop.id,
      loopRevision: loop.revision,
      loopType: loop.type,
      promptVersion: prompt?.version ?? null,
      promptChoice: resolved ? { ...resolved.choice } : null,
      input: req.input,
      model: definition.type === "llm" ? (prompt?.params.model ?? definition.llm.model) : null,
      identity: run.identity,
      authorization: decision,
      createdAt,
    };

    const refuse = async (status: FrameStatus, error: FrameError): Promise<FrameOutcome> => {
      const endedAt = clock.now();
      await store.insertFrame({ ...frameBase, status, error, startedAt: null, endedAt });
      return fail(status, error);
    };

    if (!decision.allowed) {
      await store.appendAudit({
        action: "invocation.denied",
        outcome: "denied",
        actor: run.identity,
        realmId: loop.realm,
        targetType: "loop",
        targetId: loop.id,
        data: { runId: run.id, frameId: req.frameId, depth: req.depth, reason: decision.reason },
      });
      return refuse("denied", { code: "denied", message: `Not authorized: ${decision.reason}` });
    }
    if (req.depth > definition.limits.maxDepth) {
      return refuse("failed", { code: "max_depth_exceeded", message: `Depth ${req.depth} exceeds ${loop.id}'s limit of ${definition.limits.maxDepth} (limits.maxDepth)` });
    }
    if (req.parentSignal.aborted) {
      return refuse("cancelled", toDispatchError(req.parentSignal.reason).toFrameError());
    }
    if (definition.inputSchema) {
      const issues = validator.validate(definition.inputSchema, req.input);
      if (issues.length > 0) {
        return refuse("failed", {
          code: "invalid_input",
          message: `Input does not match ${loop.id}'s input schema: ${issues.map((i) => `${i.path || "(root)"} ${i.message}`).join("; ")}`,
          details: { issues },
        });
      }
    }

    const startedAt = clock.now();
    const t0 = performance.now();
    await store.insertFrame({ ...frameBase, status: "running", startedAt });

    const controller = new AbortController();
    const onParentAbort = () => controller.abort(req.parentSignal.reason);
    req.parentSignal.addEventListener("abort", onParentAbort, { once: true });
    const timer = setTimeout(
      () => controller.abort(frameTimeoutError(loop.id, definition.limits.timeoutMs)),
      definition.limits.timeoutMs,
    );
    const attempts: Attempt[] = [];
    let usage = { inputTokens: 0, outputTokens: 0 };
    let turns = 0;
    const ctx: DispatchContext = {
      frameId: req.frameId,
      runId: run.id,
      signal: controller.signal,
      clock,
      fetch: deps.fetch,
      secrets: deps.secrets,
      mcp: deps.mcp,
      recordAttempt: (attempt) => attempts.push(attempt),
    };

    let status: FrameStatus;
    let output: unknown = null;
    let error: FrameError | null = null;
    try {
      const outcome = await Promise.race([dispatch(run, req, loop, prompt, ctx, (u) => (usage = u), (t) => (turns = t)), abortion(controller.signal)]);
      output = outcome.output;
      if (definition.outputSchema) {
        const issues = validator.validate(definition.outputSchema, output);
        if (issues.length > 0) {
          throw new DispatchError("invalid_output", `Output does not match ${loop.id}'s output schema: ${issues.map((i) => `${i.path || "(root)"} ${i.message}`).join("; ")}`, {
            details: { issues },
          });
        }
      }
      status = "succeeded";
    } catch (caught) {
      const dispatchError = controller.signal.aborted ? toDispatchError(controller.signal.reason) : toDispatchError(caught);
      error = dispatchError.toFrameError();
      status = dispatchError.code === "cancelled" ? "cancelled" : "failed";
      output = null;
    } finally {
      clearTimeout(timer);
      req.parentSignal.removeEventListener("abort", onParentAbort);
    }
    run.inputTokens += usage.inputTokens;
    run.outputTokens += usage.outputTokens;
    await store.updateFrame(req.frameId, {
      status,
      output,
      error,
      attempts,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      turns,
      endedAt: clock.now(),
      durationMs: performance.now() - t0,
    });
    if (status === "succeeded") {
      try {
        deps.onFrameSucceeded?.({ runId: run.id, frameId: req.frameId, loopId: loop.id, realm: loop.realm, promptVersion: prompt?.version ?? null, input: req.input, output, identity: run.identity });
      } catch {
        // A hook never fails the frame that triggered it.
      }
    }
    return { frameId: req.frameId, status, output, error };
  }

  async function dispatch(
    run: RunState,
    req: FrameRequest,
    loop: RegisteredLoop,
    prompt: PromptVersion | null,
    ctx: DispatchContext,
    setUsage: (u: { inputTokens: number; outputTokens: number }) => void,
    setTurns: (t: number) => void,
  ): Promise<{ output: unknown }> {
    const definition = loop.definition;
    switch (definition.type) {
      case "http":
        return dispatchHttp(definition, req.input, ctx);
      case "mcp":
        return dispatchMcp(definition, req.input, ctx);
      case "llm": {
        const usage = { inputTokens: 0, outputTokens: 0 };
        const result = await dispatchLlm(
          { loop: loop as RegisteredLoop & { definition: LlmLoopDefinition }, prompt, input: req.input, savedTurns: [] },
          {
            store: run.store,
            model: deps.model,
            newId,
            onUsage: (u, turn) => {
              usage.inputTokens += u.inputTokens;
              usage.outputTokens += u.outputTokens;
              setUsage({ ...usage });
              setTurns(turn);
            },
            runChild: (child) =>
              executeFrame(run, {
                frameId: child.frameId,
                loop: null,
                loopId: child.loopId,
                input: child.input,
                parentFrameId: req.frameId,
                parentToolCallId: child.toolUseId,
                depth: req.depth + 1,
                parentSignal: ctx.signal,
              }),
          },
          ctx,
        );
        setTurns(result.turns);
        return result;
      }
    }
  }

  async function begin(loopId: string, input: unknown, options: RunOptions): Promise<StartedRun> {
    const loop = await store.getLoop(loopId);
    if (!loop) throw new AppError("not_found", `Loop "${loopId}" does not exist`);
    checkInput(loop, input);
    const runId = newId();
    const controller = new AbortController();
    const loops = new Map<string, Promise<RegisteredLoop | null>>([[loop.id, Promise.resolve(loop)]]);
    const runStore: RuntimeStore = {
      ...store,
      getLoop: (id) => {
        let pending = loops.get(id);
        if (!pending) {
          pending = store.getLoop(id);
          loops.set(id, pending);
        }
        return pending;
      },
    };
    const state: RunState = {
      id: runId,
      identity: options.identity,
      promptOverride: options.promptOverride,
      controller,
      seq: 0,
      frames: 0,
      inputTokens: 0,
      outputTokens: 0,
      store: runStore,
    };
    const createdAt = clock.now();
    const deadline = options.timeoutMs ? new Date(createdAt.getTime() + options.timeoutMs) : null;
    await store.createRun({ id: runId, realmId: loop.realm, loopId: loop.id, loopRevision: loop.revision, status: "running", input, identity: options.identity, createdAt, deadlineAt: deadline });
    await store.appendAudit({
      action: "run.started",
      actor: options.identity,
      realmId: loop.realm,
      targetType: "run",
      targetId: runId,
      data: { loopId: loop.id, revision: loop.revision },
    });

    const onCallerAbort = () => controller.abort(new DispatchError("cancelled", "The run was cancelled by its caller"));
    options.signal?.addEventListener("abort", onCallerAbort, { once: true });
    if (options.signal?.aborted) onCallerAbort();
    const runTimer = options.timeoutMs
      ? setTimeout(() => controller.abort(new DispatchError("run_timeout", `The run exceeded its deadline of ${options.timeoutMs} ms`)), options.timeoutMs)
      : undefined;

    const done = (async (): Promise<RunResult> => {
      const rootFrameId = newId();
      let outcome: FrameOutcome;
      try {
        outcome = await executeFrame(state, { frameId: rootFrameId, loop, loopId: loop.id, input, parentFrameId: null, parentToolCallId: null, depth: 0, parentSignal: controller.signal });
      } catch (caught) {
        // A storage failure mid-run: record what we can so the run does not stay "running".
        outcome = { frameId: rootFrameId, status: "failed", output: null, error: { code: "internal_error", message: caught instanceof Error ? caught.message : String(caught) } };
      } finally {
        clearTimeout(runTimer);
        options.signal?.removeEventListener("abort", onCallerAbort);
      }
      await writer.flush();
      await store.finishRun(runId, {
        status: outcome.status,
        output: outcome.output,
        error: outcome.error,
        endedAt: clock.now(),
        frameCount: state.frames,
        inputTokens: state.inputTokens,
        outputTokens: state.outputTokens,
      });
      const trace = await store.getTrace(runId);
      if (!trace) throw new AppError("internal", `Run ${runId} finished without a trace`);
      return { runId, status: outcome.status, output: outcome.output, error: outcome.error, trace };
    })();
    const tracked = done.finally(() => active.delete(runId));
    active.set(runId, { state, done: tracked });
    return { runId, done: tracked };
  }

  function checkInput(loop: RegisteredLoop, input: unknown): void {
    let size: number;
    try {
      size = Buffer.byteLength(JSON.stringify(input ?? null));
    } catch {
      throw new AppError("invalid_input", "Run input must be JSON-serialisable");
    }
    if (size > maxInputBytes) {
      throw new AppError("payload_too_large", `Run input is ${size} bytes; the limit is ${maxInputBytes} bytes`);
    }
    if (loop.definition.inputSchema) {
      const issues = validator.validate(loop.definition.inputSchema, input);
      if (issues.length > 0) {
        throw new AppError("invalid_input", `Input does not match ${loop.id}'s input schema:\n${issues.map((i) => `  ${i.path || "(root)"}: ${i.message}`).join("\n")}`, { issues });
      }
    }
  }

  return {
    start: begin,
    async run(loopId, input, options) {
      const started = await begin(loopId, input, options);
      return started.done;
    },
    cancel(runId, reason = "The run was cancelled") {
      const entry = active.get(runId);
      if (!entry) return false;
      entry.state.controller.abort(new DispatchError("cancelled", reason));
      return true;
    },
    async drain() {
      await Promise.allSettled([...active.values()].map((a) => a.done));
    },
  };
}

/** Rejects as soon as the signal aborts, so a dispatcher that ignores its signal cannot hang a frame. */
function abortion(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(toDispatchError(signal.reason));
    signal.addEventListener("abort", () => reject(toDispatchError(signal.reason)), { once: true });
  });
}
