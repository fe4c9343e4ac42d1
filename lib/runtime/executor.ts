import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { AppError } from "../errors";
import { isLoopRefTool, type LlmLoopDefinition } from "./definition";
import type { DispatchContext } from "./dispatch";
import { dispatchHttp } from "./dispatchers/http";
import { dispatchLlm } from "./dispatchers/llm";
import { dispatchMcp } from "./dispatchers/mcp";
import type { SchemaValidator } from "./json-schema";
import type { ResolvedPrompt } from "./prompt-selection";
import { checkRunInput, checkRunTimeout, DEFAULT_MAX_INPUT_BYTES } from "./run-input";
import { DispatchError, frameTimeoutError, round, toDispatchError } from "./retry";
import type { FrameRow, RuntimeStore, ToolCallRow } from "./store";
import { buildTraceTree, traceFrameFromRow } from "./trace";
import { createTraceWriter } from "./trace-writer";
import type {
  Attempt,
  Authorizer,
  Clock,
  HttpClient,
  FrameError,
  FrameStatus,
  Identity,
  McpClientFactory,
  ModelClient,
  AuthorizationDecision,
  PromptVersion,
  RegisteredLoop,
  RunResult,
  SecretResolver,
  TraceFrame,
} from "./types";

export interface ExecutorDeps {
  store: RuntimeStore;
  model: ModelClient;
  mcp: McpClientFactory;
  http: HttpClient;
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
  /**
   * Marks the run as an evaluator's, scoring this frame: its own frames are never evaluated.
   * Only the runtime's evaluator hook sets it; no route or command passes it through.
   */
  evaluates?: { frameId: string };
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
   * versions and authorization are still read for every frame. Frame and tool-call rows go
   * through the batch writer and are kept for the run's result.
   */
  store: RuntimeStore;
  rows: RunRows;
}

/** Every frame and tool-call row of a run as recorded, from which its result's trace is built. */
interface RunRows {
  frames: FrameRow[];
  calls: ToolCallRow[];
}

/** What a frame needs before it may be dispatched: its loop, the authorization decision, its prompt. */
interface PreparedFrame {
  loop: RegisteredLoop;
  decision: AuthorizationDecision;
  resolved: ResolvedPrompt | null;
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
  /** The root frame is prepared while its run is being recorded. */
  prepared?: Promise<PreparedFrame | null>;
}

interface FrameOutcome {
  frameId: string;
  status: FrameStatus;
  output: unknown;
  error: FrameError | null;
}

export function createExecutor(deps: ExecutorDeps): Executor {
  const { clock, authorizer, validator } = deps;
  const writer = createTraceWriter(deps.store, (error) => console.error("Writing the trace failed; retrying:", error));
  // The executor's view of the store: a trace read first waits for the rows still being written.
  const store: RuntimeStore = {
    ...deps.store,
    getTrace: async (runId) => {
      await writer.flush();
      return deps.store.getTrace(runId);
    },
  };

  /** The store a run's frames use; see `RunState.store`. */
  function storeForRun(first: RegisteredLoop, rows: RunRows): RuntimeStore {
    const loops = new Map<string, Promise<RegisteredLoop | null>>([[first.id, Promise.resolve(first)]]);
    return {
      ...store,
      getLoop: (id) => {
        let pending = loops.get(id);
        if (!pending) {
          pending = store.getLoop(id);
          // Read ahead of need (a tool's loop): a failure is reported to whoever awaits it.
          pending.catch(() => {});
          loops.set(id, pending);
        }
        return pending;
      },
      // The writer applies every later patch to the row object it is handed: the run keeps the
      // same objects for its result.
      insertFrame: async (frame) => {
        const row: FrameRow = { ...frame };
        rows.frames.push(row);
        writer.insertFrame(row);
      },
      updateFrame: async (frameId, patch) => writer.updateFrame(frameId, patch),
      insertToolCall: async (call) => {
        const row: ToolCallRow = { ...call };
        rows.calls.push(row);
        writer.insertToolCall(row);
      },
      finishToolCall: async (frameId, id, patch) => writer.finishToolCall(frameId, id, patch),
      // The turn goes out in the writer's next batch while the conversation goes on: in this
      // process no frame resumes from its saved turns (the cluster engine saves a turn in the
      // transaction that hands out its tool calls), and the end of the run waits for every write.
      // While the database is away, the turn is waited for, so the frame fails instead of going
      // on calling the model with nothing recorded.
      saveTurn: async (frameId, turn, createdAt) => {
        const saved = writer.saveTurn(frameId, turn, createdAt);
        if (writer.isFailing()) await saved;
        else saved.catch(() => {});
      },
    };
  }

  /**
   * Looks up a frame's loop, then authorizes the frame and reads its prompt version together.
   * The loops its tools call are read at the same time, for the first turn's tool list.
   */
  async function prepareFrame(run: RunState, req: FrameRequest): Promise<PreparedFrame | null> {
    const loop = req.loop ?? (await run.store.getLoop(req.loopId));
    if (!loop) return null;
    const definition = loop.definition;
    if (definition.type === "llm") {
      for (const tool of definition.llm.tools) if (isLoopRefTool(tool)) void run.store.getLoop(tool.loopRef);
    }
    const override = run.promptOverride?.loopId === loop.id ? { version: run.promptOverride.version } : {};
    const [decision, resolved] = await Promise.all([
      authorizer.authorize({ identity: run.identity, realm: loop.realm, action: "invoke", loopId: loop.id }),
      definition.type === "llm" ? store.resolvePrompt(loop.id, { subject: run.identity.subject, input: req.input, ...override }) : null,
    ]);
    return { loop, decision, resolved };
  }
  const newId = deps.newId ?? randomUUID;
  const maxInputBytes = deps.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES;
  const active = new Map<string, { state: RunState; done: Promise<RunResult> }>();

  async function executeFrame(run: RunState, req: FrameRequest): Promise<FrameOutcome> {
    const seq = run.seq++;
    run.frames++;
    const createdAt = clock.now();
    const fail = (status: FrameStatus, error: FrameError): FrameOutcome => ({ frameId: req.frameId, status, output: null, error });

    const prepared = await (req.prepared ?? prepareFrame(run, req));
    if (!prepared) {
      // Nothing to attribute the frame to: the tool call in the parent carries the error.
      return fail("failed", { code: "loop_not_found", message: `Loop "${req.loopId}" does not exist` });
    }
    const { loop, decision, resolved } = prepared;
    const definition = loop.definition;
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
      await run.store.insertFrame({ ...frameBase, status, error, startedAt: null, endedAt });
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
    await run.store.insertFrame({ ...frameBase, status: "running", startedAt });

    const controller = new AbortController();
    // Every child frame and call in flight listens to it, and a turn may fan out to any number.
    setMaxListeners(0, controller.signal);
    const onParentAbort = () => controller.abort(req.parentSignal.reason);
    req.parentSignal.addEventListener("abort", onParentAbort, { once: true });
    // A cancellation that came while the frame was being recorded found no listener yet.
    if (req.parentSignal.aborted) onParentAbort();
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
      realm: loop.realm,
      signal: controller.signal,
      clock,
      http: deps.http,
      secrets: deps.secrets,
      mcp: deps.mcp,
      recordAttempt: (attempt) => attempts.push(attempt),
    };

    let status: FrameStatus;
    let output: unknown = null;
    let error: FrameError | null = null;
    try {
      const outcome = controller.signal.aborted
        ? await abortion(controller.signal)
        : await Promise.race([dispatch(run, req, loop, prompt, ctx, (u) => (usage = u), (t) => (turns = t)), abortion(controller.signal)]);
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
    await run.store.updateFrame(req.frameId, {
      status,
      output,
      error,
      attempts,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      turns,
      endedAt: clock.now(),
      durationMs: round(performance.now() - t0),
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

  async function begin(loopId: string, given: unknown, options: RunOptions): Promise<StartedRun> {
    // A deadline past what a timer can wait would overflow it and end the run at once.
    checkRunTimeout(options.timeoutMs);
    const loop = await store.getLoop(loopId);
    if (!loop) throw new AppError("not_found", `Loop "${loopId}" does not exist`);
    const input = checkRunInput(loop, given, { maxInputBytes, validator, evaluation: options.evaluates !== undefined });
    const runId = newId();
    const controller = new AbortController();
    const rows: RunRows = { frames: [], calls: [] };
    const state: RunState = {
      id: runId,
      identity: options.identity,
      promptOverride: options.promptOverride,
      controller,
      seq: 0,
      frames: 0,
      inputTokens: 0,
      outputTokens: 0,
      store: storeForRun(loop, rows),
      rows,
    };
    // The root frame is authorized, and its prompt read, while the run is recorded; nothing is
    // dispatched before both are done.
    const rootFrameId = newId();
    const rootRequest: FrameRequest = { frameId: rootFrameId, loop, loopId: loop.id, input, parentFrameId: null, parentToolCallId: null, depth: 0, parentSignal: controller.signal };
    rootRequest.prepared = prepareFrame(state, rootRequest);
    rootRequest.prepared.catch(() => {});
    const alteredBefore = writer.alteredWrites();
    const createdAt = clock.now();
    const deadline = options.timeoutMs !== undefined ? new Date(createdAt.getTime() + options.timeoutMs) : null;
    // The run's row and its audit event, one write (while the root frame is being authorized): a run
    // that could not be audited does not start, and leaves no row looking as if it runs.
    await store.createRun(
      { id: runId, realmId: loop.realm, loopId: loop.id, loopRevision: loop.revision, status: "running", input, identity: options.identity, createdAt, deadlineAt: deadline, evaluatesFrameId: options.evaluates?.frameId ?? null, promptOverride: options.promptOverride ?? null },
      { action: "run.started", actor: options.identity, realmId: loop.realm, targetType: "run", targetId: runId, data: { loopId: loop.id, revision: loop.revision } },
    );

    const onCallerAbort = () => controller.abort(new DispatchError("cancelled", "The run was cancelled by its caller"));
    options.signal?.addEventListener("abort", onCallerAbort, { once: true });
    if (options.signal?.aborted) onCallerAbort();
    const runTimer = options.timeoutMs !== undefined
      ? setTimeout(() => controller.abort(new DispatchError("run_timeout", `The run exceeded its deadline of ${options.timeoutMs} ms`)), options.timeoutMs)
      : undefined;

    const done = (async (): Promise<RunResult> => {
      let outcome: FrameOutcome;
      try {
        outcome = await executeFrame(state, rootRequest);
      } catch (caught) {
        // A storage failure mid-run: record what we can so the run does not stay "running".
        outcome = { frameId: rootFrameId, status: "failed", output: null, error: { code: "internal_error", message: caught instanceof Error ? caught.message : String(caught) } };
      } finally {
        clearTimeout(runTimer);
        options.signal?.removeEventListener("abort", onCallerAbort);
      }
      // The run's end goes with its last trace rows, in one statement.
      await writer.finishRun(runId, {
        status: outcome.status,
        output: outcome.output,
        error: outcome.error,
        endedAt: clock.now(),
        frameCount: state.frames,
        inputTokens: state.inputTokens,
        outputTokens: state.outputTokens,
      });
      // The trace as recorded, unless the writer had to store some of it differently: then as stored.
      const trace = writer.alteredWrites() === alteredBefore ? traceOf(rows) : await store.getTrace(runId);
      if (!trace) throw new AppError("internal", `Run ${runId} finished without a trace`);
      return { runId, status: outcome.status, output: outcome.output, error: outcome.error, trace };
    })();
    const tracked = done.finally(() => active.delete(runId));
    active.set(runId, { state, done: tracked });
    return { runId, done: tracked };
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

/** A run's Loop Stack Tree from its rows. */
function traceOf(rows: RunRows): TraceFrame | null {
  const calls = new Map<string, ToolCallRow[]>();
  for (const call of rows.calls) {
    const list = calls.get(call.frameId);
    if (list) list.push(call);
    else calls.set(call.frameId, [call]);
  }
  const byCall = (a: ToolCallRow, b: ToolCallRow) => a.turn - b.turn || a.position - b.position;
  const frames = [...rows.frames].sort((a, b) => a.seq - b.seq).map((frame) => traceFrameFromRow(frame, (calls.get(frame.id) ?? []).sort(byCall)));
  return buildTraceTree(frames);
}

/** Rejects as soon as the signal aborts, so a dispatcher that ignores its signal cannot hang a frame. */
function abortion(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(toDispatchError(signal.reason));
    signal.addEventListener("abort", () => reject(toDispatchError(signal.reason)), { once: true });
  });
}
