import type { PgBoss } from "pg-boss";
import { isLoopRefTool, type LlmLoopDefinition, type LoopDefinition } from "../runtime/definition";
import type { DispatchContext } from "../runtime/dispatch";
import { dispatchHttp } from "../runtime/dispatchers/http";
import { bindTools, finalOutput, MCP_TOOL_TIMEOUT_MS, renderUserMessage, requestAnswer, toolResultText, type ToolBinding } from "../runtime/dispatchers/llm";
import type { ModelResponse } from "../runtime/dispatchers/model-response";
import { dispatchMcp, mcpResultToOutput, resolvedSecretValues, resolveMcpServer } from "../runtime/dispatchers/mcp";
import type { SucceededFrame } from "../runtime/executor";
import type { SchemaValidator } from "../runtime/json-schema";
import { redactSecrets } from "../runtime/redact";
import { MAX_RUN_TIMEOUT_MS } from "../runtime/run-input";
import { DispatchError, frameTimeoutError, toDispatchError, withRetry } from "../runtime/retry";
import type { RuntimeStore } from "../runtime/store";
import type {
  Attempt,
  AuthorizationDecision,
  Authorizer,
  Clock,
  HttpClient,
  FrameError,
  FrameStatus,
  McpClientFactory,
  ModelClient,
  ModelContentBlock,
  ModelMessage,
  ModelRequest,
  PromptVersion,
  RegisteredLoop,
  SecretResolver,
} from "../runtime/types";
import { createRealmAuthorizer } from "../runtime/authorizer";
import { selectPrompt, type ResolvedPrompt } from "../runtime/prompt-selection";
import { rolesOfGroups, type LoopCatalog, type RealmMapping } from "./catalog";
import { childFrameId, derivedId } from "./ids";
import { isWithinConcurrency, type ClusterLimits, type ModelRateLimiter } from "./limits";
import { enqueueSteps, frameStepJob, STEP_QUEUE, toolStepJob, type StepJob, type StepJobInsert } from "./queue";
import { bossDb, type SqlDatabase, type SqlExecutor } from "./sql";
import {
  admitFrame,
  claimFrame,
  endRunEarly,
  finishFrame,
  isLive,
  loadFrame,
  loadToolStep,
  loadConversation,
  saveToolTurn,
  settleToolCall,
  type ClaimedPromptState,
  type CompletedTurn,
  type FinishContext,
  type FrameOutcome,
  type JobCompletion,
  type FrameState,
  type PlannedChild,
  type PlannedToolCall,
  type TurnUsage,
  TurnConflictError,
} from "./state";
import { isInfrastructureError } from "./errors";

/** What a worker lends each step. */
export interface StepDeps {
  db: SqlDatabase;
  boss: PgBoss;
  store: RuntimeStore;
  catalog: LoopCatalog;
  model: ModelClient;
  mcp: McpClientFactory;
  http: HttpClient;
  clock: Clock;
  authorizer: Authorizer;
  /**
   * The authorizer is the realm authorizer over the stored mappings: the statement that claims a
   * queued frame then reads its realm's mappings too, and they decide the frame.
   */
  isRealmAuthorizer: boolean;
  secrets: SecretResolver;
  validator: SchemaValidator;
  workerId: string;
  limits: ClusterLimits;
  rateLimiter: ModelRateLimiter;
  /** How long a step's lease on its frame lasts between heartbeats. */
  leaseMs: number;
  /** Whether work this worker enqueues should wake the others (it is busy) or only itself. */
  shouldNotifyPeers(): boolean;
  onFrameSucceeded?: (frame: SucceededFrame) => void;
}

export interface StepJobRef {
  id: string;
  retryCount: number;
  data: StepJob;
}

export interface StepRun {
  job: StepJobRef;
  /** Aborted when the run is cancelled (reason: a `cancelled` DispatchError) or the worker stops (`WorkerStoppingError`). */
  signal: AbortSignal;
  /** Tells the worker what the step is working on, for the registry. */
  describe(work: { frameId: string; loopId: string; runId: string }): void;
}

/** The job was retried elsewhere (its attempt lapsed): what this attempt did is rolled back. */
export class StepSupersededError extends Error {
  constructor(jobId: string) {
    super(`Step ${jobId} is no longer held by this attempt`);
    this.name = "StepSupersededError";
  }
}

/** The worker is stopping: the step is handed back to the queue untouched. */
export class WorkerStoppingError extends Error {
  constructor() {
    super("The worker is stopping");
    this.name = "WorkerStoppingError";
  }
}

/** Put back for a concurrency or rate limit after this many milliseconds at most. */
const MAX_DEFER_MS = 5_000;

export async function runStep(deps: StepDeps, step: StepRun): Promise<void> {
  const { data } = step.job;
  if (data.kind === "tool") return runToolStep(deps, step, data);
  return runFrameStep(deps, step, data);
}

/**
 * Runs `write` and completes the step's job in one transaction, only if this attempt still holds
 * it. A write that records the step's outcome passes `completion` on to its statement, which then
 * completes the job too; otherwise the job is completed by a statement of its own.
 */
async function commitStep(deps: StepDeps, job: StepJobRef, write: (tx: SqlExecutor, completion: JobCompletion) => Promise<void>): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const completion: JobCompletion = { queue: STEP_QUEUE, id: job.id, retryCount: job.retryCount };
    await write(tx, completion);
    if (completion.isCompleted === undefined) await completeJob(deps, tx, job);
    else if (!completion.isCompleted) throw new StepSupersededError(job.id);
  });
}

async function completeJob(deps: StepDeps, tx: SqlExecutor, job: StepJobRef): Promise<void> {
  const result = (await deps.boss.complete(STEP_QUEUE, { id: job.id, retryCount: job.retryCount }, null, { db: bossDb(tx) })) as { affected?: number };
  if (result.affected === 0) throw new StepSupersededError(job.id);
}

/** Nothing to do (the frame or the run has already ended): just settle the job, a statement on its own. */
function finishJob(deps: StepDeps, job: StepJobRef): Promise<void> {
  return completeJob(deps, deps.db, job);
}

/** Hands the step back with a delay, without spending one of its retries. */
async function defer(deps: StepDeps, step: StepRun, delayMs: number, group?: { id: string; tier: string }): Promise<void> {
  const { job } = step;
  const deferrals = job.data.deferrals + 1;
  const jitter = Math.random() * 0.2 * delayMs;
  const copy: StepJobInsert = {
    id: derivedId("step", job.id, "deferred", String(job.retryCount), String(deferrals)),
    data: { ...job.data, deferrals },
    startAfter: Math.min(delayMs + jitter, MAX_DEFER_MS) / 1000,
    ...(group ? { group } : {}),
  };
  await commitStep(deps, job, (tx) => enqueueSteps(deps.boss, tx, [copy], {}));
}

interface StepSignal {
  signal: AbortSignal;
  dispose(): void;
}

/**
 * One signal for a step: the worker's (cancellation, shutdown), the frame's own timeout from
 * when it started, and the run's deadline — whichever comes first.
 */
export function stepSignal(deps: Pick<StepDeps, "clock">, parent: AbortSignal, frame: FrameState, definition: LoopDefinition): StepSignal {
  const controller = new AbortController();
  const timers: NodeJS.Timeout[] = [];
  const now = deps.clock.now().getTime();
  const onParent = () => controller.abort(parent.reason);
  if (parent.aborted) onParent();
  else parent.addEventListener("abort", onParent, { once: true });
  const startedAt = frame.startedAt?.getTime() ?? now;
  const frameLeft = startedAt + definition.limits.timeoutMs - now;
  timers.push(
    setTimeout(
      () => controller.abort(frameTimeoutError(frame.loopId, definition.limits.timeoutMs)),
      Math.max(0, frameLeft),
    ),
  );
  const runLeft = frame.run.deadlineAt ? frame.run.deadlineAt.getTime() - now : null;
  // A deadline further off than a timer can wait (a stored row, or a clock far behind) would
  // overflow the timer, which then fires at once. It is also further off than the frame's own
  // timeout (24 hours at most), whose timer ends the step first; the next step sets it again.
  if (runLeft !== null && runLeft <= MAX_RUN_TIMEOUT_MS) {
    timers.push(setTimeout(() => controller.abort(runTimeoutError()), Math.max(0, runLeft)));
  }
  return {
    signal: controller.signal,
    dispose() {
      for (const timer of timers) clearTimeout(timer);
      parent.removeEventListener("abort", onParent);
    },
  };
}

function runTimeoutError(): DispatchError {
  return new DispatchError("run_timeout", "The run exceeded its deadline");
}

/** Rejects as soon as the signal aborts, so a dispatcher that ignores its signal cannot hang a step. */
function abortion(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    signal.addEventListener("abort", () => reject(signal.reason as Error), { once: true });
  });
}

function emptyUsage(): TurnUsage {
  return { inputTokens: 0, outputTokens: 0, attempts: [] };
}

function validationMessage(issues: { path: string; message: string }[]): string {
  return issues.map((i) => `${i.path || "(root)"} ${i.message}`).join("; ");
}

// ---------------------------------------------------------------------------------------------
// Frame steps: admission, HTTP and MCP loops, and each turn of an LLM loop.

async function runFrameStep(deps: StepDeps, step: StepRun, data: Extract<StepJob, { kind: "frame" }>): Promise<void> {
  const frame = await claimFrame(deps.db, data.frameId, deps.workerId, new Date(deps.clock.now().getTime() + deps.leaseMs), { readsRealmMappings: deps.isRealmAuthorizer });
  if (!frame || !isLive(frame.status)) return finishJob(deps, step.job);
  step.describe({ frameId: frame.id, loopId: frame.loopId, runId: frame.runId });
  // A replay's prompt version travels with its steps; the run's row has it for the steps that lost it.
  const finishCtx: FinishContext = { boss: deps.boss, promptOverride: data.promptOverride ?? frame.run.promptOverride, notify: deps.shouldNotifyPeers() };

  if (!isLive(frame.run.status) || (frame.parentStatus !== null && !isLive(frame.parentStatus))) {
    // Frames spawned as the run or their parent ended (a parent's timeout): they never start.
    const message = isLive(frame.run.status) ? "Its parent frame had already ended" : "The run had already ended";
    return commitStep(deps, step.job, async (tx, completion) => {
      await finishFrame(tx, frame, { status: "cancelled", output: null, error: { code: "cancelled", message }, endedAt: deps.clock.now() }, emptyUsage(), { ...finishCtx, completion });
    });
  }
  if (frame.run.deadlineAt && frame.run.deadlineAt.getTime() <= deps.clock.now().getTime()) {
    await endRunEarly(deps.db, frame.runId, { status: "failed", error: runTimeoutError().toFrameError() }, deps.clock.now());
    return finishJob(deps, step.job);
  }

  const revision = await deps.catalog.revision(frame.loopId, frame.loopRevision);
  if (!revision) {
    const error = { code: "loop_not_found", message: `Revision ${frame.loopRevision} of loop "${frame.loopId}" does not exist` };
    return commitStep(deps, step.job, async (tx, completion) => {
      await finishFrame(tx, frame, { status: "failed", output: null, error, endedAt: deps.clock.now() }, emptyUsage(), { ...finishCtx, completion });
    });
  }
  const { definition } = revision;
  const group = { id: frame.loopId, tier: frame.realmId };
  if (!(await isWithinConcurrency(deps.db, deps.limits, { jobId: step.job.id, loopId: frame.loopId, realmId: frame.realmId }))) {
    return defer(deps, step, 250 * 2 ** Math.min(step.job.data.deferrals, 4), group);
  }

  let isFresh = false;
  if (frame.status === "running") {
    if (!frame.isClaimed) return finishJob(deps, step.job);
  } else {
    const admitted = await admit(deps, step, frame, definition, finishCtx);
    if (!admitted) return;
    frame.status = "running";
    frame.startedAt = admitted.startedAt;
    frame.promptVersion = admitted.prompt?.version ?? null;
    isFresh = admitted.isFresh;
  }

  const { signal, dispose } = stepSignal(deps, step.signal, frame, definition);
  try {
    if (definition.type === "llm") {
      await runLlmTurns(deps, step, frame, { ...revision, definition }, signal, finishCtx, isFresh);
    } else {
      await runLeafFrame(deps, step, frame, definition, signal, finishCtx);
    }
  } finally {
    dispose();
  }
}

/**
 * Authorizes the frame with the run's original identity and checks depth and input, exactly as
 * the in-process executor does before dispatch. A refusal ends the frame (and settles the job).
 */
async function admit(
  deps: StepDeps,
  step: StepRun,
  frame: FrameState,
  definition: LoopDefinition,
  finishCtx: FinishContext,
): Promise<{ startedAt: Date; prompt: PromptVersion | null; isFresh: boolean } | null> {
  const identity = frame.run.identity;
  const reads = frame.admissionReads;
  const context = { subject: identity.subject, input: frame.input };
  const isReplayed = finishCtx.promptOverride?.loopId === frame.loopId;
  // The prompt is read alongside the authorization (and used only if it allows the call); both
  // usually came with the claim.
  let resolving: Promise<ResolvedPrompt | null>;
  if (definition.type !== "llm") resolving = Promise.resolve(null);
  else if (isReplayed) resolving = deps.store.resolvePrompt(frame.loopId, { ...context, version: finishCtx.promptOverride!.version });
  else if (reads?.promptState) resolving = resolveClaimedPrompt(deps, frame.loopId, reads.promptState, context);
  else resolving = deps.store.resolvePrompt(frame.loopId, context);
  resolving.catch(() => {});
  const authorizer = deps.isRealmAuthorizer && reads?.realmMappings ? claimedRealmAuthorizer(deps, reads.realmMappings) : deps.authorizer;
  const decision = await authorizer.authorize({ identity, realm: frame.realmId, action: "invoke", loopId: frame.loopId });
  const refuse = async (status: FrameStatus, error: FrameError, authorization: AuthorizationDecision) => {
    await commitStep(deps, step.job, async (tx, completion) => {
      await finishFrame(tx, frame, { status, output: null, error, endedAt: deps.clock.now(), authorization }, emptyUsage(), { ...finishCtx, completion });
    });
    return null;
  };
  if (!decision.allowed) {
    await deps.store.appendAudit({
      action: "invocation.denied",
      outcome: "denied",
      actor: identity,
      realmId: frame.realmId,
      targetType: "loop",
      targetId: frame.loopId,
      data: { runId: frame.runId, frameId: frame.id, depth: frame.depth, reason: decision.reason },
    });
    return refuse("denied", { code: "denied", message: `Not authorized: ${decision.reason}` }, decision);
  }
  if (frame.depth > definition.limits.maxDepth) {
    return refuse(
      "failed",
      { code: "max_depth_exceeded", message: `Depth ${frame.depth} exceeds ${frame.loopId}'s limit of ${definition.limits.maxDepth} (limits.maxDepth)` },
      decision,
    );
  }
  if (definition.inputSchema) {
    const issues = deps.validator.validate(definition.inputSchema, frame.input);
    if (issues.length > 0) {
      return refuse(
        "failed",
        { code: "invalid_input", message: `Input does not match ${frame.loopId}'s input schema: ${validationMessage(issues)}`, details: { issues } },
        decision,
      );
    }
  }

  const resolved = await resolving;
  const prompt: PromptVersion | null = resolved?.prompt ?? null;
  const promptChoice: Record<string, unknown> | null = resolved ? { ...resolved.choice } : null;
  const startedAt = deps.clock.now();
  const isAdmitted = await admitFrame(deps.db, frame, {
    authorization: decision,
    promptVersion: prompt?.version ?? null,
    promptChoice,
    model: definition.type === "llm" ? (prompt?.params.model ?? definition.llm.model) : null,
    startedAt,
    leaseOwner: deps.workerId,
    leaseExpiresAt: new Date(startedAt.getTime() + deps.leaseMs),
  });
  if (!isAdmitted) {
    // Another attempt admitted it first (this one was retried while that one ran): carry on from the row.
    const current = await loadFrame(deps.db, frame.id);
    if (!current || current.status !== "running") {
      await finishJob(deps, step.job);
      return null;
    }
    const again = current.promptVersion === null ? null : await deps.catalog.promptVersion(frame.loopId, current.promptVersion, { subject: identity.subject, input: frame.input });
    return { startedAt: current.startedAt ?? startedAt, prompt: again, isFresh: false };
  }
  return { startedAt, prompt, isFresh: true };
}

/** The prompt version a frame runs, picked as `selectPrompt` picks it from the state that came with its claim. */
async function resolveClaimedPrompt(deps: StepDeps, loopId: string, state: ClaimedPromptState, context: { subject: string; input: unknown }): Promise<ResolvedPrompt | null> {
  if (state.activeVersion === null) return null;
  const [active, candidate] = await Promise.all([
    deps.catalog.promptVersion(loopId, state.activeVersion, context),
    state.rollout ? deps.catalog.promptVersion(loopId, state.rollout.candidateVersion, context) : null,
  ]);
  if (!active) return null;
  const { rollout } = state;
  return selectPrompt({ active, rollout: rollout && candidate ? { id: rollout.id, percent: rollout.percent, stickyBy: rollout.stickyBy, candidate } : null }, context);
}

/** The realm authorizer, answered from the mappings of the frame's realm that came with its claim. */
function claimedRealmAuthorizer(deps: StepDeps, mappings: RealmMapping[]): Authorizer {
  const roles: Pick<RuntimeStore, "getRealmRoles"> = { getRealmRoles: async (_realm, groups) => rolesOfGroups(mappings, groups) };
  return createRealmAuthorizer({ store: roles as RuntimeStore, clock: deps.clock });
}

/** How an aborted or failed dispatch ends the frame; null when the step must stop without an outcome. */
async function failureOutcome(deps: StepDeps, frame: FrameState, signal: AbortSignal, caught: unknown): Promise<Pick<FrameOutcome, "status" | "error"> | null> {
  const reason: unknown = signal.aborted ? signal.reason : caught;
  if (reason instanceof WorkerStoppingError) throw reason;
  // The database or the queue failed, not the loop: the whole step is retried.
  if (caught instanceof StepSupersededError || caught instanceof TurnConflictError || isInfrastructureError(caught)) throw caught;
  const error = toDispatchError(reason);
  if (error.code === "run_timeout") {
    await endRunEarly(deps.db, frame.runId, { status: "failed", error: error.toFrameError() }, deps.clock.now());
    return null;
  }
  return { status: error.code === "cancelled" ? "cancelled" : "failed", error: error.toFrameError() };
}

function dispatchContext(deps: StepDeps, frame: FrameState, signal: AbortSignal, attempts: Attempt[]): DispatchContext {
  return {
    frameId: frame.id,
    runId: frame.runId,
    realm: frame.realmId,
    signal,
    clock: deps.clock,
    http: deps.http,
    secrets: deps.secrets,
    mcp: deps.mcp,
    recordAttempt: (attempt) => attempts.push(attempt),
  };
}

/** An HTTP or MCP loop: one call (with its retries), then the frame ends. */
async function runLeafFrame(
  deps: StepDeps,
  step: StepRun,
  frame: FrameState,
  definition: Exclude<LoopDefinition, LlmLoopDefinition>,
  signal: AbortSignal,
  finishCtx: FinishContext,
): Promise<void> {
  const usage = emptyUsage();
  const ctx = dispatchContext(deps, frame, signal, usage.attempts);
  let outcome: Pick<FrameOutcome, "status" | "output" | "error">;
  try {
    // The HTTP dispatcher sends the frame id as Idempotency-Key: a call repeated after a crash is recognisable.
    const dispatched = definition.type === "http" ? dispatchHttp(definition, frame.input, ctx) : dispatchMcp(definition, frame.input, ctx);
    const { output } = await Promise.race([dispatched, abortion(signal)]);
    checkOutput(deps, frame, definition, output);
    outcome = { status: "succeeded", output, error: null };
  } catch (caught) {
    const failed = await failureOutcome(deps, frame, signal, caught);
    if (!failed) return finishJob(deps, step.job);
    outcome = { ...failed, output: null };
  }
  await commitStep(deps, step.job, async (tx, completion) => {
    await finishFrame(tx, frame, { ...outcome, endedAt: deps.clock.now() }, usage, { ...finishCtx, completion });
  });
  if (outcome.status === "succeeded") notifySucceeded(deps, frame, outcome.output);
}

function checkOutput(deps: StepDeps, frame: FrameState, definition: LoopDefinition, output: unknown): void {
  if (!definition.outputSchema) return;
  const issues = deps.validator.validate(definition.outputSchema, output);
  if (issues.length > 0) {
    throw new DispatchError("invalid_output", `Output does not match ${frame.loopId}'s output schema: ${validationMessage(issues)}`, { details: { issues } });
  }
}

function notifySucceeded(deps: StepDeps, frame: FrameState, output: unknown): void {
  try {
    deps.onFrameSucceeded?.({
      runId: frame.runId,
      frameId: frame.id,
      loopId: frame.loopId,
      realm: frame.realmId,
      promptVersion: frame.promptVersion,
      input: frame.input,
      output,
      identity: frame.run.identity,
      hasEvaluators: frame.hasEvaluators,
    });
  } catch {
    // A hook never fails the frame that triggered it.
  }
}

// ---------------------------------------------------------------------------------------------
// LLM frames: one job runs turns until a turn hands work to other workers or the frame ends.

type LlmRevision = { loopId: string; revision: number; definition: LlmLoopDefinition };

async function runLlmTurns(
  deps: StepDeps,
  step: StepRun,
  frame: FrameState,
  revision: LlmRevision,
  signal: AbortSignal,
  finishCtx: FinishContext,
  isFresh: boolean,
): Promise<void> {
  const { definition } = revision;
  const identity = frame.run.identity;
  const prompt = frame.promptVersion === null ? null : await deps.catalog.promptVersion(frame.loopId, frame.promptVersion, { subject: identity.subject, input: frame.input });
  const params = prompt?.params ?? {};
  const model = params.model ?? definition.llm.model;
  const system = prompt?.systemPrompt ?? definition.llm.systemPrompt;
  const temperature = params.temperature ?? definition.llm.temperature;
  let usage = emptyUsage();
  const ctx = dispatchContext(deps, frame, signal, usage.attempts);
  const loop: RegisteredLoop & { definition: LlmLoopDefinition } = {
    id: frame.loopId,
    realm: frame.realmId,
    type: "llm",
    description: definition.description,
    revision: revision.revision,
    activePromptVersion: frame.promptVersion,
    definition,
    createdAt: "",
    updatedAt: "",
  };

  const end = async (outcome: Pick<FrameOutcome, "status" | "output" | "error">, finalTurn?: { turn: number; message: ModelMessage; stopReason: string; inputTokens: number; outputTokens: number }) => {
    await commitStep(deps, step.job, async (tx, completion) => {
      const saved = finalTurn ? { turn: finalTurn.turn, messages: [finalTurn.message], stopReason: finalTurn.stopReason, inputTokens: finalTurn.inputTokens, outputTokens: finalTurn.outputTokens } : undefined;
      await finishFrame(tx, frame, { ...outcome, endedAt: deps.clock.now() }, { ...usage, turns: finalTurn?.turn ?? 0 }, { ...finishCtx, completion }, saved, completedTurn);
    });
    if (outcome.status === "succeeded") notifySucceeded(deps, frame, outcome.output);
  };
  const fail = async (caught: unknown) => {
    const failed = await failureOutcome(deps, frame, signal, caught);
    if (!failed) return finishJob(deps, step.job);
    return end({ ...failed, output: null });
  };

  let bindings: Map<string, ToolBinding>;
  let messages: ModelMessage[];
  let turn: number;
  // A turn completed with its tool results here is saved by this step's next write.
  let completedTurn: CompletedTurn | undefined;
  try {
    // The tools' loops come from the catalog: a turn costs no query per tool.
    bindings = await bindTools({ loop, prompt, input: frame.input, savedTurns: [] }, { store: { getLoop: (id) => deps.catalog.current(id) } }, ctx);
    // A frame admitted by this very step has no saved turns yet.
    const resumed: Resumed = isFresh
      ? { kind: "continue", messages: [{ role: "user", content: renderUserMessage(frame.input) }], nextTurn: 1 }
      : await resumeConversation(deps, step, frame, definition);
    if (resumed.kind === "waiting") return;
    if (resumed.kind === "finished") return end({ status: "succeeded", output: resumed.output, error: null });
    messages = resumed.messages;
    turn = resumed.nextTurn;
    completedTurn = resumed.completedTurn;
  } catch (caught) {
    return fail(caught);
  }
  const tools = [...bindings.entries()].map(([name, b]) => ({ name, description: b.description, input_schema: b.inputSchema }));

  for (; turn <= definition.llm.maxTurns; turn++) {
    let response: ModelResponse;
    try {
      // A wait this step sleeps through reserves its slot; a longer one defers the step and reserves nothing.
      const wait = deps.rateLimiter.take(model, MAX_DEFER_MS / 5);
      if (wait > MAX_DEFER_MS / 5) return defer(deps, step, wait, { id: frame.loopId, tier: frame.realmId });
      if (wait > 0) await sleepUnlessAborted(wait, signal);
      const request: ModelRequest = {
        model,
        max_tokens: params.maxTokens ?? definition.llm.maxTokens,
        messages,
        ...(system ? { system } : {}),
        ...(temperature !== undefined ? { temperature } : {}),
        ...(tools.length > 0 ? { tools } : {}),
      };
      const call = withRetry(
        () => requestAnswer(deps.model, request, { signal, timeoutMs: definition.llm.requestTimeoutMs, loopId: frame.loopId, frameId: frame.id }),
        { policy: definition.retry, signal, clock: deps.clock, onAttempt: ctx.recordAttempt, turn },
      );
      response = await Promise.race([call, abortion(signal)]);
    } catch (caught) {
      return fail(caught);
    }
    usage.inputTokens += response.usage.input_tokens;
    usage.outputTokens += response.usage.output_tokens;
    const assistant: ModelMessage = { role: "assistant", content: response.content as ModelContentBlock[] };
    const turnUsage = { inputTokens: response.usage.input_tokens, outputTokens: response.usage.output_tokens };

    if (response.stop_reason !== "tool_use") {
      const text = response.content.flatMap((b) => (b.type === "text" ? [(b as { text: string }).text] : [])).join("");
      let output: unknown;
      try {
        output = finalOutput(text, definition.outputSchema !== undefined);
        checkOutput(deps, frame, definition, output);
      } catch (caught) {
        const error = toDispatchError(caught).toFrameError();
        return end({ status: "failed", output: null, error }, { turn, message: assistant, stopReason: response.stop_reason, ...turnUsage });
      }
      return end({ status: "succeeded", output, error: null }, { turn, message: assistant, stopReason: response.stop_reason, ...turnUsage });
    }

    // requestAnswer made sure there is at least one.
    const toolUses = response.content.filter((b): b is Extract<typeof b, { type: "tool_use" }> => b.type === "tool_use");
    let open: number | null;
    let calls: PlannedToolCall[];
    try {
      const plan = await planToolCalls(deps, frame, toolUses, bindings, finishCtx.promptOverride);
      calls = plan.calls;
      const turnPlan = {
        frame,
        turn,
        assistant,
        stopReason: "tool_use",
        turnTokens: turnUsage,
        usage,
        calls,
        children: plan.children,
        jobs: plan.jobs,
        at: deps.clock.now(),
        ...(completedTurn ? { completedTurn } : {}),
      };
      if (plan.jobs.length > 0) {
        // Saved, enqueued and this job completed together; if the run ended meanwhile, only the job is.
        await commitStep(deps, step.job, async (tx, completion) => {
          await holdRunRevisions(deps, tx, frame, turnPlan);
          await saveToolTurn(tx, deps.boss, turnPlan, { notify: deps.shouldNotifyPeers(), completion });
        });
        // The children and tool calls run on any worker; the last one to end enqueues the next turn.
        return;
      }
      open = await deps.db.transaction((tx) => saveToolTurn(tx, deps.boss, turnPlan, {}));
    } catch (caught) {
      return fail(caught);
    }
    if (open === null) return finishJob(deps, step.job);
    // Every call was answered at once (unknown tools, missing loops): the next turn runs here.
    usage = emptyUsage();
    ctx.recordAttempt = (attempt) => usage.attempts.push(attempt);
    const results: ModelMessage = { role: "user", content: calls.map((c) => toolResultBlock(c.id, c.kind, c.immediate?.output, c.immediate?.isError ?? true)) };
    completedTurn = { turn, messages: [assistant, results] };
    messages.push(assistant, results);
  }
  return end({ status: "failed", output: null, error: { code: "max_turns_exceeded", message: `No final answer after ${definition.llm.maxTurns} turns (llm.maxTurns)` } });
}

type Resumed =
  | { kind: "waiting" }
  | { kind: "finished"; output: unknown }
  /** `completedTurn`: the last turn with its tool results, for the step's next write to save. */
  | { kind: "continue"; messages: ModelMessage[]; nextTurn: number; completedTurn?: CompletedTurn };

/**
 * Rebuilds the conversation from the saved turns. A turn whose tools are all answered gets its
 * tool results now; a turn still waiting means this job came early, and its open work is
 * enqueued again (derived ids make that a no-op when it is already there).
 */
async function resumeConversation(deps: StepDeps, step: StepRun, frame: FrameState, definition: LlmLoopDefinition): Promise<Resumed> {
  const { turns: saved, lastCalls: calls } = frame.conversation ?? (await loadConversation(deps.db, frame.id));
  const messages: ModelMessage[] = [{ role: "user", content: renderUserMessage(frame.input) }];
  for (const turn of saved) messages.push(...(turn.messages as ModelMessage[]));
  const last = saved.at(-1);
  if (!last) return { kind: "continue", messages, nextTurn: 1 };
  if (last.stopReason !== "tool_use") {
    const assistant = last.messages[0] as ModelMessage;
    const text = Array.isArray(assistant.content) ? assistant.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("") : assistant.content;
    return { kind: "finished", output: finalOutput(text, definition.outputSchema !== undefined) };
  }
  if (last.messages.length >= 2) return { kind: "continue", messages, nextTurn: last.turn + 1 };

  const open = calls.filter((c) => c.endedAt === null);
  if (open.length > 0) {
    const promptOverride = (step.job.data.kind === "frame" ? step.job.data.promptOverride : undefined) ?? frame.run.promptOverride;
    const jobs: StepJobInsert[] = [];
    for (const call of open) {
      if (call.kind === "loop" && call.childFrameId) jobs.push(frameStepJob(frame.runId, call.childFrameId, { promptOverride }));
      else if (call.kind === "mcp") jobs.push(toolStepJob(frame.runId, frame.id, call.id));
    }
    await commitStep(deps, step.job, (tx) => enqueueSteps(deps.boss, tx, jobs));
    return { kind: "waiting" };
  }
  const results: ModelMessage = { role: "user", content: calls.map((c) => toolResultBlock(c.id, c.kind, c.output, c.isError)) };
  const assistant = last.messages[0] as ModelMessage;
  messages.push(results);
  return { kind: "continue", messages, nextTurn: last.turn + 1, completedTurn: { turn: last.turn, messages: [assistant, results] } };
}

/** The tool_result the model sees, rebuilt from what the tool call recorded. */
function toolResultBlock(toolUseId: string, kind: string, output: unknown, isError: boolean): ModelContentBlock {
  let content: string;
  const error = isError && output !== null && typeof output === "object" && "error" in output ? (output as { error: FrameError }).error : null;
  if (error && typeof error.message === "string") content = kind === "unknown" ? error.message : `${error.code}: ${error.message}`;
  else content = toolResultText(output);
  return { type: "tool_result", tool_use_id: toolUseId, content, ...(isError ? { is_error: true } : {}) };
}

/**
 * A run runs every frame of one loop at one revision: the one it first reached the loop at. A
 * child of a loop the run already has a frame of takes that frame's revision, else the current
 * one as planned. Called in the transaction that saves the children, after taking the run's row,
 * so that plans of the same run on other workers wait and then see the children saved here.
 */
async function holdRunRevisions(deps: StepDeps, tx: SqlExecutor, frame: FrameState, plan: { children: PlannedChild[]; jobs: StepJobInsert[] }): Promise<void> {
  if (plan.children.length === 0) return;
  await tx.query(`select id from runs where id = $1 for update`, [frame.runId]);
  const { rows } = await tx.query<{ loop_id: string; loop_revision: number }>(
    `select distinct on (loop_id) loop_id, loop_revision from frames where run_id = $1 and loop_id = any($2::text[]) order by loop_id, seq`,
    [frame.runId, [...new Set(plan.children.map((c) => c.loopId))]],
  );
  const held = new Map(rows.map((r) => [r.loop_id, r.loop_revision]));
  for (const [i, child] of plan.children.entries()) {
    const revision = held.get(child.loopId);
    if (revision === undefined || revision === child.loopRevision) continue;
    const definition = (await deps.catalog.revision(child.loopId, revision))?.definition;
    if (!definition) throw new Error(`Revision ${revision} of loop ${child.loopId}, which this run runs, cannot be read`);
    plan.children[i] = { ...child, loopRevision: revision, loopType: definition.type, realmId: definition.realm };
    for (const job of plan.jobs) if (job.data.kind === "frame" && job.data.frameId === child.id && job.group) job.group = { id: child.loopId, tier: definition.realm };
  }
}

async function planToolCalls(
  deps: StepDeps,
  frame: FrameState,
  toolUses: { id: string; name: string; input: unknown }[],
  bindings: Map<string, ToolBinding>,
  promptOverride: { loopId: string; version: number } | undefined,
): Promise<{ calls: PlannedToolCall[]; children: PlannedChild[]; jobs: StepJobInsert[] }> {
  const calls: PlannedToolCall[] = [];
  const children: PlannedChild[] = [];
  const jobs: StepJobInsert[] = [];
  for (const [position, use] of toolUses.entries()) {
    const binding = bindings.get(use.name);
    const base = { id: use.id, position, name: use.name, input: use.input };
    if (!binding) {
      const message = `Unknown tool "${use.name}". Available tools: ${[...bindings.keys()].join(", ") || "none"}`;
      calls.push({ ...base, kind: "unknown", childFrameId: null, immediate: { output: { error: { code: "unknown_tool", message } }, isError: true } });
      continue;
    }
    const { tool } = binding;
    if (isLoopRefTool(tool)) {
      const child = await deps.catalog.current(tool.loopRef);
      if (!child) {
        const error = { code: "loop_not_found", message: `Loop "${tool.loopRef}" does not exist` };
        calls.push({ ...base, kind: "loop", childFrameId: null, immediate: { output: { error }, isError: true } });
        continue;
      }
      const id = childFrameId(frame.id, use.id);
      calls.push({ ...base, kind: "loop", childFrameId: id });
      children.push({ id, toolUseId: use.id, realmId: child.realm, loopId: child.id, loopRevision: child.revision, loopType: child.type, input: use.input });
      jobs.push(frameStepJob(frame.runId, id, { promptOverride, group: { id: child.id, tier: child.realm } }));
      continue;
    }
    if (use.input === null || typeof use.input !== "object" || Array.isArray(use.input)) {
      const error = { code: "invalid_input", message: "Tool input must be a JSON object" };
      calls.push({ ...base, kind: "mcp", childFrameId: null, immediate: { output: { error }, isError: true } });
      continue;
    }
    calls.push({ ...base, kind: "mcp", childFrameId: null });
    jobs.push(toolStepJob(frame.runId, frame.id, use.id));
  }
  return { calls, children, jobs };
}

function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

// ---------------------------------------------------------------------------------------------
// Tool steps: an MCP tool the model called directly, answered into the parent's turn.

async function runToolStep(deps: StepDeps, step: StepRun, data: Extract<StepJob, { kind: "tool" }>): Promise<void> {
  const loaded = await loadToolStep(deps.db, data.frameId, data.toolUseId);
  if (!loaded || loaded.frame.status !== "running" || !isLive(loaded.frame.run.status)) return finishJob(deps, step.job);
  const { frame, call } = loaded;
  if (!call || call.endedAt !== null) return finishJob(deps, step.job);
  step.describe({ frameId: frame.id, loopId: frame.loopId, runId: frame.runId });
  const revision = await deps.catalog.revision(frame.loopId, frame.loopRevision);
  const definition = revision?.definition;
  const tool = definition?.type === "llm" ? definition.llm.tools.find((t) => t.name === call.name && !isLoopRefTool(t)) : undefined;

  let output: unknown;
  let isError: boolean;
  if (!definition || !tool || isLoopRefTool(tool)) {
    output = { error: { code: "unknown_tool", message: `Tool "${call.name}" is not an MCP tool of ${frame.loopId} revision ${frame.loopRevision}` } };
    isError = true;
  } else {
    const { signal, dispose } = stepSignal(deps, step.signal, frame, definition);
    let secrets: string[] = [];
    try {
      const server = resolveMcpServer(tool.mcp.server, deps.secrets, frame.realmId);
      secrets = resolvedSecretValues(tool.mcp.server, server);
      const result = await Promise.race([
        deps.mcp.callTool(server, tool.mcp.tool, call.input as Record<string, unknown>, { signal, timeoutMs: MCP_TOOL_TIMEOUT_MS }),
        abortion(signal),
      ]);
      // The server may echo a header or variable back: its secret values never reach the trace or the model.
      output = redactSecrets(mcpResultToOutput(result), secrets);
      isError = result.isError === true;
    } catch (caught) {
      if (signal.aborted) {
        const failed = await failureOutcome(deps, frame, signal, caught);
        if (!failed) return finishJob(deps, step.job);
        if (failed.status === "cancelled") return finishJob(deps, step.job);
        output = { error: failed.error };
      } else {
        output = { error: redactSecrets(caught instanceof DispatchError ? caught.toFrameError() : { code: "tool_error", message: String(caught) }, secrets) };
      }
      isError = true;
    } finally {
      dispose();
    }
  }
  await commitStep(deps, step.job, async (tx, completion) => {
    await settleToolCall(tx, { frameId: frame.id, toolUseId: call.id, runId: frame.runId, output, isError, endedAt: deps.clock.now() }, { boss: deps.boss, notify: deps.shouldNotifyPeers(), completion });
  });
}
