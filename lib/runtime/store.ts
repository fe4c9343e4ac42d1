import type { LoopDefinition } from "./definition";
import type { PromptSelectionContext, ResolvedPrompt } from "./prompt-selection";
import type {
  Attempt,
  AuthorizationDecision,
  FrameError,
  FrameStatus,
  Identity,
  LoopRevision,
  PromptVersion,
  RegisteredLoop,
  Role,
  RunStatus,
  TraceFrame,
} from "./types";

export interface SaveRevisionParams {
  definition: LoopDefinition;
  hash: string;
  actor: string;
  /** LLM loops: a new prompt version to create and activate with this revision. */
  prompt?: { systemPrompt: string; params: PromptVersion["params"]; message: string };
}

export interface SaveRevisionResult {
  loop: RegisteredLoop;
  /** false when the definition was identical to the current revision. */
  changed: boolean;
  promptVersion: number | null;
  /**
   * The prompt rollout that was running when this revision activated a new prompt version: it
   * ends with the move, as with a promotion (it compared a candidate against a version that is no
   * longer active).
   */
  endedRollout: EndedRollout | null;
}

export interface EndedRollout {
  id: string;
  candidateVersion: number;
  percent: number;
  outcome: "stopped";
}

export interface NewRun {
  id: string;
  realmId: string;
  loopId: string;
  loopRevision: number;
  status: RunStatus;
  input: unknown;
  identity: Identity;
  createdAt: Date;
  deadlineAt: Date | null;
  /** An evaluator's run: the frame it scores. */
  evaluatesFrameId?: string | null;
  /** A replay: the prompt version its frames of one loop run. */
  promptOverride?: { loopId: string; version: number } | null;
}

export interface RunPatch {
  status: RunStatus;
  output?: unknown;
  error?: FrameError | null;
  endedAt?: Date;
  frameCount?: number;
  inputTokens?: number;
  outputTokens?: number;
}

export interface NewFrame {
  id: string;
  runId: string;
  parentFrameId: string | null;
  parentToolCallId: string | null;
  depth: number;
  seq: number;
  realmId: string;
  loopId: string;
  loopRevision: number;
  loopType: string;
  promptVersion: number | null;
  promptChoice: Record<string, unknown> | null;
  status: FrameStatus;
  input: unknown;
  model: string | null;
  identity: Identity;
  authorization: AuthorizationDecision;
  error?: FrameError | null;
  createdAt: Date;
  startedAt: Date | null;
  endedAt?: Date | null;
}

export interface FramePatch {
  status: FrameStatus;
  output?: unknown;
  error?: FrameError | null;
  attempts?: Attempt[];
  inputTokens?: number;
  outputTokens?: number;
  turns?: number;
  endedAt?: Date;
  durationMs?: number;
}

export interface NewToolCall {
  frameId: string;
  id: string;
  runId: string;
  turn: number;
  position: number;
  name: string;
  kind: "loop" | "mcp" | "unknown";
  input: unknown;
  childFrameId: string | null;
  startedAt: Date;
}

export interface ToolCallPatch {
  output: unknown;
  isError: boolean;
  endedAt: Date;
  durationMs: number;
}

/** A frame's whole row as the runtime knows it, for the batch writer. */
export interface FrameRow extends NewFrame {
  attempts?: Attempt[];
  output?: unknown;
  inputTokens?: number;
  outputTokens?: number;
  turns?: number;
  durationMs?: number | null;
}

/** A tool call's whole row as the runtime knows it, for the batch writer. */
export interface ToolCallRow extends NewToolCall {
  output?: unknown;
  isError?: boolean;
  endedAt?: Date | null;
  durationMs?: number | null;
}

/** A conversation turn as the trace writer queues it. */
export interface TurnRow {
  frameId: string;
  turn: SavedTurn;
  createdAt: Date;
}

/** What writing a batch changed: whether a value had to be stored differently (see `storableJson`). */
export interface TraceBatchWritten {
  replacedValues: boolean;
}

export interface TraceBatch {
  frames: FrameRow[];
  toolCalls: ToolCallRow[];
  /** Frames this writer has already stored, of which only what can change is written. */
  frameUpdates?: FrameRow[];
  /** Tool calls this writer has already stored, likewise. */
  toolCallUpdates?: ToolCallRow[];
  turns?: TurnRow[];
  /** Runs that end with this batch: written in the same statement as their last trace rows. */
  runEnds?: RunEndRow[];
}

export interface RunEndRow extends RunPatch {
  runId: string;
}

export interface SavedTurn {
  turn: number;
  messages: unknown[];
  stopReason: string | null;
  inputTokens: number;
  outputTokens: number;
}

export interface StoreAuditEvent {
  action: string;
  outcome?: "ok" | "denied" | "failed";
  actor: Pick<Identity, "subject"> & Partial<Pick<Identity, "kind" | "source">>;
  realmId?: string | null;
  targetType?: string | null;
  targetId?: string | null;
  data?: Record<string, unknown>;
}

/** Everything the runtime persists or reads. The PostgreSQL/PGlite implementation is `db/store.ts`. */
export interface RuntimeStore {
  getLoop(id: string): Promise<RegisteredLoop | null>;
  getRevision(loopId: string, revision: number): Promise<LoopRevision | null>;
  /** Which of these loop ids exist. */
  existingLoopIds(ids: string[]): Promise<Set<string>>;
  listLoops(filter: { realms?: readonly string[]; type?: string }): Promise<RegisteredLoop[]>;
  listRevisions(loopId: string): Promise<LoopRevision[]>;
  saveRevision(params: SaveRevisionParams): Promise<SaveRevisionResult>;
  getActivePrompt(loopId: string): Promise<PromptVersion | null>;
  /**
   * The prompt version one frame runs, as the database holds it when the frame starts: the active
   * version, or a running rollout's pick for this caller or input; `version` forces one (replay).
   */
  resolvePrompt(loopId: string, context: PromptSelectionContext & { version?: number }): Promise<ResolvedPrompt | null>;
  getRealmRoles(realmId: string, groupDns: readonly string[]): Promise<{ groupDn: string; role: Role }[]>;

  /** Records a run with the audit event of its start: if either cannot be stored, neither is. */
  createRun(run: NewRun, started: StoreAuditEvent): Promise<void>;
  insertFrame(frame: NewFrame): Promise<void>;
  updateFrame(frameId: string, patch: FramePatch): Promise<void>;
  insertToolCall(call: NewToolCall): Promise<void>;
  finishToolCall(frameId: string, id: string, patch: ToolCallPatch): Promise<void>;
  saveTurn(frameId: string, turn: SavedTurn, createdAt: Date): Promise<void>;
  /**
   * Inserts or updates many frames, tool calls and conversation turns in one statement, each row
   * its latest whole state; rows in `frameUpdates` and `toolCallUpdates` exist already and get
   * only the columns that change after a row is first written.
   */
  writeTraceBatch(batch: TraceBatch): Promise<TraceBatchWritten | void>;
  loadTurns(frameId: string): Promise<SavedTurn[]>;
  getTrace(runId: string): Promise<TraceFrame | null>;
  appendAudit(event: StoreAuditEvent): Promise<void>;
  /**
   * Runs `work` in one transaction, on a store whose every read and write is part of it: all of
   * its writes commit together, or none does when `work` throws. Within a transaction, a nested
   * one is a savepoint.
   */
  transaction<T>(work: (store: RuntimeStore) => Promise<T>): Promise<T>;
}
