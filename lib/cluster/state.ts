import type { PgBoss } from "pg-boss";
import type { Attempt, AuthorizationDecision, FrameError, FrameStatus, Identity } from "../runtime/types";
import { limitsSchema } from "../runtime/definition";
import type { RealmMapping } from "./catalog";
import { enqueueSteps, frameStepJob, FRAMES_ENDED_CHANNEL, RUN_CANCELLED_CHANNEL, RUN_ENDED_CHANNEL, WORK_CHANNEL, type StepJobInsert } from "./queue";
import { storableJson } from "../runtime/storable.mjs";
import { json, transactionRetryingConflicts, type SqlDatabase, type SqlExecutor } from "./sql";

/**
 * The run state the cluster keeps in the same tables as the in-process executor, so a trace
 * reads the same whichever engine ran it. Every write that ends something is guarded by the
 * status it expects, which makes a replayed step a no-op instead of a second outcome.
 */

const LIVE = `('queued','running')`;

export interface FrameState {
  id: string;
  runId: string;
  parentFrameId: string | null;
  parentToolCallId: string | null;
  depth: number;
  realmId: string;
  loopId: string;
  loopRevision: number;
  loopType: string;
  promptVersion: number | null;
  promptChoice: Record<string, unknown> | null;
  status: FrameStatus;
  input: unknown;
  model: string | null;
  startedAt: Date | null;
  turns: number;
  /** `promptOverride`: a replay's prompt version, which every step of the run keeps. */
  run: { status: FrameStatus; identity: Identity; deadlineAt: Date | null; promptOverride: { loopId: string; version: number } | undefined };
  /** Null for the root frame. */
  parentStatus: FrameStatus | null;
  /** Whether evaluator loops are configured on the frame's loop, as the step found it. */
  hasEvaluators: boolean;
  /** Set by `claimFrame`: this worker now holds the lease of the (running) frame. */
  isClaimed?: boolean;
  /** Set by `claimFrame` for a running LLM frame: its saved turns and the tool calls of the last one. */
  conversation?: SavedConversation;
  /** Set by `claimFrame` for a queued frame: what its admission reads, as the database held it at the claim. */
  admissionReads?: AdmissionReads;
}

export interface AdmissionReads {
  /** Every mapping of the frame's realm; null when they were not read (not asked for, or too many). */
  realmMappings: RealmMapping[] | null;
  /** An LLM loop's prompt state, by version numbers (the versions themselves never change). */
  promptState?: ClaimedPromptState;
}

export interface ClaimedPromptState {
  /** Null when the loop has no prompt version. */
  activeVersion: number | null;
  rollout: { id: string; percent: number; stickyBy: string; candidateVersion: number } | null;
}

/** A realm with more mappings than this has the roles of a frame's caller read on their own. */
const MAX_CLAIMED_MAPPINGS = 200;

interface FrameRow {
  id: string;
  run_id: string;
  parent_frame_id: string | null;
  parent_tool_call_id: string | null;
  depth: number;
  realm_id: string;
  loop_id: string;
  loop_revision: number;
  loop_type: string;
  prompt_version: number | null;
  prompt_choice: Record<string, unknown> | null;
  status: FrameStatus;
  input: unknown;
  model: string | null;
  started_at: Date | string | null;
  turns: number;
  run_status: FrameStatus;
  run_identity: Identity;
  run_deadline_at: Date | string | null;
  run_prompt_override: { loopId: string; version: number } | null;
  parent_status: FrameStatus | null;
  has_evaluators: boolean;
}

const date = (value: Date | string | null): Date | null => (value === null ? null : new Date(value));

const FRAME_COLUMNS = `f.id, f.run_id, f.parent_frame_id, f.parent_tool_call_id, f.depth, f.realm_id, f.loop_id, f.loop_revision,
  f.loop_type, f.prompt_version, f.prompt_choice, f.status, f.input, f.model, f.started_at, f.turns,
  r.status as run_status, r.identity as run_identity, r.deadline_at as run_deadline_at, r.prompt_override as run_prompt_override,
  (select p.status from frames p where p.id = f.parent_frame_id) as parent_status,
  exists (select 1 from loop_evaluators e where e.loop_id = f.loop_id) as has_evaluators`;

function toFrameState(row: FrameRow): FrameState {
  return {
    id: row.id,
    runId: row.run_id,
    parentFrameId: row.parent_frame_id,
    parentToolCallId: row.parent_tool_call_id,
    depth: row.depth,
    realmId: row.realm_id,
    loopId: row.loop_id,
    loopRevision: row.loop_revision,
    loopType: row.loop_type,
    promptVersion: row.prompt_version,
    promptChoice: row.prompt_choice,
    status: row.status,
    input: row.input,
    model: row.model,
    startedAt: date(row.started_at),
    turns: row.turns,
    run: { status: row.run_status, identity: row.run_identity, deadlineAt: date(row.run_deadline_at), promptOverride: row.run_prompt_override ?? undefined },
    parentStatus: row.parent_status,
    hasEvaluators: row.has_evaluators,
  };
}

export async function loadFrame(db: SqlExecutor, frameId: string): Promise<FrameState | null> {
  const { rows } = await db.query<FrameRow>(`select ${FRAME_COLUMNS} from frames f join runs r on r.id = f.run_id where f.id = $1`, [frameId]);
  return rows[0] ? toFrameState(rows[0]) : null;
}

/**
 * Loads a frame for a step, in one round trip. A running frame is also claimed — its lease names
 * this worker, which is what the console shows as current work — and, for an LLM frame, comes
 * with its saved conversation; a queued one takes its lease when it is admitted.
 */
export async function claimFrame(db: SqlExecutor, frameId: string, owner: string, expiresAt: Date, options: { readsRealmMappings: boolean }): Promise<FrameState | null> {
  const { rows } = await db.query<
    FrameRow & {
      claimed: number;
      conversation: { turns: SavedConversation["turns"]; calls: RawToolCall[] } | null;
      realm_mappings: RealmMapping[] | null;
      prompt_active: number | null;
      rollout_id: string | null;
      rollout_percent: number | null;
      rollout_sticky_by: string | null;
      rollout_candidate: number | null;
    }
  >(CLAIM_SQL, [frameId, owner, expiresAt, options.readsRealmMappings]);
  const row = rows[0];
  if (!row) return null;
  const frame: FrameState = { ...toFrameState(row), isClaimed: row.claimed > 0 };
  if (row.conversation) frame.conversation = { turns: row.conversation.turns, lastCalls: row.conversation.calls.map(toSavedToolCall) };
  if (row.status === "queued") {
    frame.admissionReads = {
      realmMappings: row.realm_mappings,
      ...(row.loop_type === "llm"
        ? {
            promptState: {
              activeVersion: row.prompt_active,
              rollout:
                row.rollout_id !== null && row.rollout_percent !== null && row.rollout_sticky_by !== null && row.rollout_candidate !== null
                  ? { id: row.rollout_id, percent: row.rollout_percent, stickyBy: row.rollout_sticky_by, candidateVersion: row.rollout_candidate }
                  : null,
            },
          }
        : {}),
    };
  }
  return frame;
}

export function isLive(status: string): boolean {
  return status === "queued" || status === "running";
}

export interface Admission {
  authorization: AuthorizationDecision;
  promptVersion: number | null;
  promptChoice: Record<string, unknown> | null;
  model: string | null;
  startedAt: Date;
  leaseOwner: string;
  leaseExpiresAt: Date;
}

/** queued → running, with the authorization and prompt the frame runs under; false if it was not queued. */
export async function admitFrame(db: SqlExecutor, frame: FrameState, admission: Admission): Promise<boolean> {
  const { rows } = await db.query<{ admitted: number }>(frame.depth === 0 ? ADMIT_ROOT_SQL : ADMIT_SQL, [
    frame.id,
    admission.startedAt,
    json(admission.authorization),
    admission.promptVersion,
    json(admission.promptChoice),
    admission.model,
    admission.leaseOwner,
    admission.leaseExpiresAt,
  ]);
  return (rows[0]?.admitted ?? 0) > 0;
}

const ADMIT_FRAME_CTE = `f as (
       update frames set status = 'running', started_at = $2, "authorization" = $3::jsonb, prompt_version = $4,
              prompt_choice = $5::jsonb, model = $6, lease_owner = $7, lease_expires_at = $8
        where id = $1 and status = 'queued' returning run_id
     )`;
const ADMIT_SQL = `with ${ADMIT_FRAME_CTE} select count(*)::int as admitted from f`;
/** A root frame's admission starts its run too. */
const ADMIT_ROOT_SQL = `with ${ADMIT_FRAME_CTE}, r as (
       update runs set status = 'running' where id = (select run_id from f) and status = 'queued'
     )
     select count(*)::int as admitted from f`;

export async function renewLeases(db: SqlExecutor, frameIds: string[], owner: string, expiresAt: Date): Promise<void> {
  if (frameIds.length === 0) return;
  await db.query(`update frames set lease_expires_at = $3 where id = any($1::uuid[]) and lease_owner = $2`, [frameIds, owner, expiresAt]);
}

export interface TurnUsage {
  inputTokens: number;
  outputTokens: number;
  attempts: Attempt[];
  turns?: number;
}

export interface FrameOutcome {
  status: FrameStatus;
  output: unknown;
  error: FrameError | null;
  endedAt: Date;
  /** Set when the frame ends before dispatch (denied, or refused by a check). */
  authorization?: AuthorizationDecision;
}

export interface FinishContext {
  boss: PgBoss;
  /** Wake other workers with a NOTIFY; a worker that can take the work itself wakes only itself. */
  notify?: boolean;
  /** Carried to the parent's resumption job. */
  promptOverride?: { loopId: string; version: number } | undefined;
  /** The step's own job, completed by the same statement (see `JobCompletion`). */
  completion?: JobCompletion;
}

/**
 * A step's own pg-boss job, completed by the statement that records the step's outcome instead of
 * one of its own: the same fenced update pg-boss makes (only the attempt that holds the job
 * completes it), on pg-boss's job table. The step's transaction rolls back when `isCompleted` comes
 * back false. The completion is the last lock that statement takes, as it was when it came last.
 */
export interface JobCompletion {
  queue: string;
  id: string;
  retryCount: number;
  /** Set by the statement that tried to complete the job. */
  isCompleted?: boolean;
}

function completionCte(q: StatementBuilder, completion: JobCompletion): string {
  return `done as (
       update pgboss.job set completed_on = pgboss.job_now(), state = 'completed', output = null
        where name = ${q.add(completion.queue, "text")} and id = ${q.add(completion.id, "uuid")} and retry_count = ${q.add(completion.retryCount, "int")}
          and state = 'active'
        returning id
     )`;
}
function noteCompletion(completion: JobCompletion | undefined, row: { completed?: number } | undefined): void {
  if (completion) completion.isCompleted = (row?.completed ?? 0) > 0;
}

/** A turn that waited for tools, completed with their results: saved by the statement of the step's next write. */
export interface CompletedTurn {
  turn: number;
  messages: unknown[];
}

export interface FinalTurn {
  turn: number;
  messages: unknown[];
  stopReason: string;
  inputTokens: number;
  outputTokens: number;
}

/**
 * Builds a statement's text and parameters together. A statement whose parts depend on the call
 * has one text per combination of parts, each prepared once per connection, and leaves out what it
 * has no use for: every table a statement writes costs the database work to set up, rows or not.
 */
class StatementBuilder {
  readonly params: unknown[] = [];
  add(value: unknown, type: string): string {
    this.params.push(value);
    return `$${this.params.length}::${type}`;
  }
}

/**
 * Ends a frame (saving its final turn, if any), then either answers its parent's tool call —
 * resuming the parent when it was the last open one of that turn — or, for a root frame, ends
 * the run. Returns false when the frame had already ended (a cancellation, or an earlier
 * attempt of this step).
 *
 * One statement saves the final turn (and completes the previous one), ends the frame, answers
 * the parent's tool call and takes one off the parent's open calls — an UPDATE, which waits for
 * the parent row and then re-reads its newest version, so siblings answering at once take turns
 * and exactly one of them sees 0 — or ends the run; the NOTIFYs and the completion of the step's
 * job go with it. Only when the parent's turn was saved without a count is it counted in a
 * statement of its own (see resumeIfLast).
 */
export async function finishFrame(
  tx: SqlExecutor,
  frame: FrameState,
  outcome: FrameOutcome,
  usage: TurnUsage,
  ctx: FinishContext,
  finalTurn?: FinalTurn,
  completedTurn?: CompletedTurn,
): Promise<boolean> {
  const succeeded = outcome.status === "succeeded";
  const isRoot = frame.parentFrameId === null;
  const q = new StatementBuilder();
  const id = q.add(frame.id, "uuid");
  const runId = q.add(frame.runId, "uuid");
  const status = q.add(outcome.status, "text");
  const output = q.add(json(outcome.output), "jsonb");
  const error = q.add(json(outcome.error), "jsonb");
  const at = q.add(outcome.endedAt, "timestamptz");
  const ctes: string[] = [];
  const columns = [`(select count(*) from f)::int as ended`];
  if (finalTurn) {
    ctes.push(`t as (
       insert into conversation_turns (frame_id, turn, messages, stop_reason, input_tokens, output_tokens, created_at)
       values (${id}, ${q.add(finalTurn.turn, "int")}, ${q.add(storableJson(finalTurn.messages), "jsonb")}, ${q.add(finalTurn.stopReason, "text")},
               ${q.add(finalTurn.inputTokens, "int")}, ${q.add(finalTurn.outputTokens, "int")}, ${at})
       on conflict do nothing returning turn
     )`);
    columns.push(`(select count(*) from t)::int as saved`);
  }
  if (completedTurn) ctes.push(completedTurnCte(q, id, completedTurn));
  ctes.push(`f as (
       update frames set status = ${status}, output = ${output}, error = ${error}, ended_at = ${at},
              duration_ms = extract(epoch from (${at} - coalesce(started_at, ${at}))) * 1000,
              "authorization" = coalesce(${q.add(json(outcome.authorization ?? null), "jsonb")}, "authorization"),
              input_tokens = input_tokens + ${q.add(usage.inputTokens, "int")}, output_tokens = output_tokens + ${q.add(usage.outputTokens, "int")},
              attempts = attempts || ${q.add(storableJson(usage.attempts), "jsonb")}, turns = greatest(turns, ${q.add(usage.turns ?? 0, "int")}),
              lease_owner = null, lease_expires_at = null
        where id = ${id} and status in ${LIVE} returning parent_frame_id, parent_tool_call_id, input_tokens, output_tokens
     )`);
  if (isRoot) {
    ctes.push(`r as (
       update runs set status = ${status}, output = ${output}, error = ${error}, ended_at = ${at},
              input_tokens = (select coalesce(sum(input_tokens), 0) from frames where run_id = ${runId} and id <> ${id}) + (select input_tokens from f),
              output_tokens = (select coalesce(sum(output_tokens), 0) from frames where run_id = ${runId} and id <> ${id}) + (select output_tokens from f)
        where id = ${runId} and status in ${LIVE} and exists (select 1 from f)
     ), rn as (
       select pg_notify('${RUN_ENDED_CHANNEL}', ${runId}::text) where exists (select 1 from f)
     )`);
    columns.push(`(select count(*) from rn)::int as notified`);
  } else {
    const childError = outcome.error ?? { code: outcome.status, message: `Child loop ${frame.loopId} ${outcome.status}` };
    ctes.push(`tc as (
       update tool_calls set output = ${q.add(json(succeeded ? outcome.output : { error: childError }), "jsonb")}, is_error = ${q.add(!succeeded, "boolean")},
              ended_at = ${at}, duration_ms = extract(epoch from (${at} - started_at)) * 1000
        where frame_id = (select parent_frame_id from f) and id = (select parent_tool_call_id from f) and run_id = ${runId} and ended_at is null
        returning turn
     ), ${countDownCtes(q, "(select parent_frame_id from f)", ctx.notify ?? false)}`);
    columns.push(COUNT_DOWN_COLUMNS);
  }
  if (ctx.completion) {
    ctes.push(completionCte(q, ctx.completion));
    // Last: the job row is the last lock the statement takes.
    columns.push(`(select count(*) from done)::int as completed`);
  }
  const { rows } = await tx.query<Partial<CountedDown> & { ended: number; saved?: number; completed?: number }>(`with ${ctes.join(", ")}\n     select ${columns.join(", ")}`, q.params);
  const row = rows[0];
  noteCompletion(ctx.completion, row);
  if (finalTurn && row?.saved === 0) throw new TurnConflictError(frame.id, finalTurn.turn);
  if (!row || row.ended === 0) return false;
  if (!isRoot) await resumeIfLastAnswer(tx, frame.parentFrameId!, row, frame.runId, ctx);
  return true;
}

/**
 * Answers one tool call of an LLM frame (an MCP tool the model called), resuming the frame
 * when it was the last open call of its turn: one statement, as in finishFrame.
 */
export async function settleToolCall(
  tx: SqlExecutor,
  call: { frameId: string; toolUseId: string; runId: string; output: unknown; isError: boolean; endedAt: Date },
  ctx: FinishContext,
): Promise<void> {
  const q = new StatementBuilder();
  const frameId = q.add(call.frameId, "uuid");
  const at = q.add(call.endedAt, "timestamptz");
  const ctes = [
    `tc as (
       update tool_calls set output = ${q.add(json(call.output), "jsonb")}, is_error = ${q.add(call.isError, "boolean")}, ended_at = ${at},
              duration_ms = extract(epoch from (${at} - started_at)) * 1000
        where frame_id = ${frameId} and id = ${q.add(call.toolUseId, "text")} and ended_at is null returning turn
     ), ${countDownCtes(q, frameId, ctx.notify ?? false)}`,
  ];
  const columns = [COUNT_DOWN_COLUMNS];
  if (ctx.completion) {
    ctes.push(completionCte(q, ctx.completion));
    columns.push(`(select count(*) from done)::int as completed`);
  }
  const { rows } = await tx.query<CountedDown & { completed?: number }>(`with ${ctes.join(", ")}\n     select ${columns.join(", ")}`, q.params);
  const row = rows[0];
  noteCompletion(ctx.completion, row);
  if (row) await resumeIfLastAnswer(tx, call.frameId, row, call.runId, ctx);
}

/**
 * After a `tc` CTE that answered a tool call (returning its turn): `p` takes one off the calling
 * frame's open calls — an UPDATE, which waits for the frame's row and then re-reads its newest
 * version, so siblings answering at once take turns and exactly one of them sees 0 — and `n`
 * wakes the workers for its resumption when that one is 0.
 */
function countDownCtes(q: StatementBuilder, parentId: string, notify: boolean): string {
  return `p as (
       update frames set open_tool_calls = open_tool_calls - 1
        where id = ${parentId} and exists (select 1 from tc)
        returning status, loop_id, realm_id, open_tool_calls
     ), n as (
       select pg_notify('${WORK_CHANNEL}', '') where ${q.add(notify, "boolean")} and (select open_tool_calls from p) = 0 and (select status from p) = 'running'
     )`;
}

const COUNT_DOWN_COLUMNS = `(select turn from tc) as turn, (select status from p) as parent_status, (select loop_id from p) as parent_loop,
       (select realm_id from p) as parent_realm, (select open_tool_calls from p) as parent_open, (select count(*) from n)::int as notified`;

/** What `countDownCtes` found: the answered call's turn (null when it was already answered) and the calling frame. */
interface CountedDown {
  turn: number | null;
  parent_status: string | null;
  parent_loop: string | null;
  parent_realm: string | null;
  parent_open: number | null;
}

async function resumeIfLastAnswer(tx: SqlExecutor, parentId: string, row: Partial<CountedDown>, runId: string, ctx: FinishContext): Promise<void> {
  if (row.turn == null || row.parent_status !== "running") return;
  await resumeParent(tx, { id: parentId, loopId: row.parent_loop!, realmId: row.parent_realm!, open: row.parent_open ?? null }, row.turn, runId, ctx);
}

/** A turn that waited for tools, saved completed with their results (once: a replay finds it so). */
function completedTurnCte(q: StatementBuilder, frameId: string, completed: CompletedTurn, guard = ""): string {
  return `ct as (
       update conversation_turns set messages = ${q.add(storableJson(completed.messages), "jsonb")}
        where frame_id = ${frameId} and turn = ${q.add(completed.turn, "int")} and jsonb_array_length(messages) = 1 ${guard}
     )`;
}

/**
 * Enqueues the parent's next turn when the answer just recorded was the last of its turn: its
 * count of open calls came to 0 (and the statement that took it there sent the NOTIFY). A turn
 * saved without a count (null), or one the count lost track of (below 0), is counted instead.
 */
async function resumeParent(tx: SqlExecutor, parent: { id: string; loopId: string; realmId: string; open: number | null }, turn: number, runId: string, ctx: FinishContext): Promise<void> {
  if (parent.open === null || parent.open < 0) return resumeIfLast(tx, parent, turn, runId, ctx);
  if (parent.open > 0) return;
  await enqueueSteps(ctx.boss, tx, [resumptionJob(parent, turn, runId, ctx)], { notify: false });
}

function resumptionJob(parent: { id: string; loopId: string; realmId: string }, turn: number, runId: string, ctx: FinishContext): StepJobInsert {
  return frameStepJob(runId, parent.id, { afterTurn: turn, promptOverride: ctx.promptOverride, group: { id: parent.loopId, tier: parent.realmId } });
}

/**
 * With the parent row locked (by the statement that answered the call), counts what is still
 * open in a statement of its own, so that it sees every answer committed before the lock was
 * granted: two calls answered at once then see each other's answers, and exactly one of them
 * enqueues the parent's next turn.
 */
async function resumeIfLast(tx: SqlExecutor, parent: { id: string; loopId: string; realmId: string }, turn: number, runId: string, ctx: FinishContext): Promise<void> {
  const open = await tx.query<{ open: number }>(`select count(*)::int as open from tool_calls where frame_id = $1 and turn = $2 and ended_at is null`, [parent.id, turn]);
  if ((open.rows[0]?.open ?? 1) > 0) return;
  await enqueueSteps(ctx.boss, tx, [resumptionJob(parent, turn, runId, ctx)], { notify: ctx.notify ?? false });
}

export interface PlannedToolCall {
  id: string;
  position: number;
  name: string;
  kind: "loop" | "mcp" | "unknown";
  input: unknown;
  childFrameId: string | null;
  /** Set for calls answered at once (an unknown tool, a missing loop): they need no work. */
  immediate?: { output: unknown; isError: boolean };
}

export interface PlannedChild {
  id: string;
  toolUseId: string;
  realmId: string;
  loopId: string;
  loopRevision: number;
  loopType: string;
  input: unknown;
}

export interface TurnPlan {
  frame: FrameState;
  turn: number;
  /** The assistant message that asked for the tools; the tool results join it when all are in. */
  assistant: unknown;
  stopReason: string;
  /** The tokens of this turn's model request. */
  turnTokens: { inputTokens: number; outputTokens: number };
  /** Everything the step spent since the frame's last saved turn, added to the frame. */
  usage: TurnUsage;
  calls: PlannedToolCall[];
  children: PlannedChild[];
  jobs: StepJobInsert[];
  at: Date;
  /** The turn before, completed with its tool results by this step and not saved yet. */
  completedTurn?: CompletedTurn;
}

/**
 * Saves a turn that asked for tools, with its tool calls and child frames, in one statement,
 * and enqueues the work. Children and jobs have derived ids, so a replay inserts nothing new.
 * Returns how many calls are still open, or null when the run has already ended.
 */
export async function saveToolTurn(tx: SqlExecutor, boss: PgBoss, plan: TurnPlan, options: { notify?: boolean; completion?: JobCompletion } = {}): Promise<number | null> {
  const { frame, turn } = plan;
  const at = plan.at.toISOString();
  const calls = plan.calls.map((c) => ({
    id: c.id,
    position: c.position,
    name: c.name,
    kind: c.kind,
    input: c.input ?? null,
    output: c.immediate ? (c.immediate.output ?? null) : null,
    is_error: c.immediate?.isError ?? false,
    child_frame_id: c.childFrameId,
    ended_at: c.immediate ? at : null,
    duration_ms: c.immediate ? 0 : null,
  }));
  const pending: AuthorizationDecision = {
    allowed: false,
    action: "invoke",
    realm: "",
    role: null,
    via: null,
    reason: "not checked yet: the frame is queued and is authorized when a worker starts it",
    checkedAt: at,
  };
  const children = plan.children.map((c, i) => ({
    id: c.id,
    i,
    parent_tool_call_id: c.toolUseId,
    realm_id: c.realmId,
    loop_id: c.loopId,
    loop_revision: c.loopRevision,
    loop_type: c.loopType,
    input: c.input ?? null,
    authorization: { ...pending, realm: c.realmId },
  }));
  const open = plan.calls.filter((c) => !c.immediate).length;
  const q = new StatementBuilder();
  const frameId = q.add(frame.id, "uuid");
  const runId = q.add(frame.runId, "uuid");
  const childCount = q.add(plan.children.length, "int");
  const turnNumber = q.add(turn, "int");
  const createdAt = q.add(plan.at, "timestamptz");
  // One statement saves the turn (completing the one before it), its tool calls and child frames
  // and the count of calls left open, and sends the NOTIFY for the jobs enqueued next.
  const ctes = [
    `r as (
       update runs set frame_count = frame_count + ${childCount} where id = ${runId} and status in ${LIVE} returning frame_count
     ), t as (
       insert into conversation_turns (frame_id, turn, messages, stop_reason, input_tokens, output_tokens, created_at)
       select ${frameId}, ${turnNumber}, ${q.add(storableJson([plan.assistant]), "jsonb")}, ${q.add(plan.stopReason, "text")},
              ${q.add(plan.turnTokens.inputTokens, "int")}, ${q.add(plan.turnTokens.outputTokens, "int")}, ${createdAt}
        where exists (select 1 from r)
       on conflict do nothing returning turn
     ), c as (
       insert into tool_calls (frame_id, id, run_id, turn, position, name, kind, input, output, is_error, child_frame_id, started_at, ended_at, duration_ms)
       select ${frameId}, x.id, ${runId}, ${turnNumber}, x.position, x.name, x.kind, x.input, x.output, x.is_error, x.child_frame_id, ${createdAt}, x.ended_at, x.duration_ms
         from jsonb_to_recordset(${q.add(storableJson(calls), "jsonb")}) as x(id text, position int, name text, kind text, input jsonb, output jsonb, is_error boolean,
              child_frame_id uuid, ended_at timestamptz, duration_ms real)
        where exists (select 1 from t)
       on conflict do nothing
     )`,
  ];
  if (plan.children.length > 0) {
    ctes.push(`ch as (
       insert into frames (id, run_id, parent_frame_id, parent_tool_call_id, depth, seq, realm_id, loop_id, loop_revision, loop_type,
                           status, input, identity, "authorization", created_at)
       select x.id, ${runId}, ${frameId}, x.parent_tool_call_id, ${q.add(frame.depth + 1, "int")}, (select frame_count from r) - ${childCount} + x.i, x.realm_id, x.loop_id,
              x.loop_revision, x.loop_type, 'queued', x.input, ${q.add(storableJson(frame.run.identity), "jsonb")}, x."authorization", ${createdAt}
         from jsonb_to_recordset(${q.add(storableJson(children), "jsonb")}) as x(id uuid, i int, parent_tool_call_id text, realm_id text, loop_id text, loop_revision int,
              loop_type text, input jsonb, "authorization" jsonb)
        where exists (select 1 from t)
       on conflict do nothing
     )`);
  }
  ctes.push(`u as (
       update frames set input_tokens = input_tokens + ${q.add(plan.usage.inputTokens, "int")}, output_tokens = output_tokens + ${q.add(plan.usage.outputTokens, "int")},
              attempts = attempts || ${q.add(storableJson(plan.usage.attempts), "jsonb")}, turns = greatest(turns, ${turnNumber}), open_tool_calls = ${q.add(open, "int")},
              lease_owner = null, lease_expires_at = null
        where id = ${frameId} and exists (select 1 from t)
     )`);
  if (plan.completedTurn) ctes.push(completedTurnCte(q, frameId, plan.completedTurn, "and exists (select 1 from r)"));
  const columns = [`(select count(*) from t)::int as saved, (select count(*) from r)::int as counted`];
  if (options.notify && plan.jobs.length > 0) {
    ctes.push(`n as (select pg_notify('${WORK_CHANNEL}', '') where exists (select 1 from t))`);
    columns.push(`(select count(*) from n)::int as notified`);
  }
  if (options.completion) {
    ctes.push(completionCte(q, options.completion));
    columns.push(`(select count(*) from done)::int as completed`);
  }
  const { rows } = await tx.query<{ saved: number; counted: number; completed?: number }>(`with ${ctes.join(", ")}\n     select ${columns.join(", ")}`, q.params);
  const row = rows[0];
  noteCompletion(options.completion, row);
  if (!row || row.counted === 0) return null;
  if (row.saved === 0) throw new TurnConflictError(frame.id, turn);
  await enqueueSteps(boss, tx, plan.jobs, { notify: false });
  return open;
}

/** Another attempt of the same step saved this turn first; this attempt's answer is dropped. */
export class TurnConflictError extends Error {
  constructor(frameId: string, turn: number) {
    super(`Turn ${turn} of frame ${frameId} was already saved by another attempt`);
    this.name = "TurnConflictError";
  }
}

export interface SavedToolCall {
  id: string;
  position: number;
  name: string;
  kind: string;
  output: unknown;
  isError: boolean;
  endedAt: Date | null;
  childFrameId: string | null;
}

export interface SavedConversation {
  turns: { turn: number; messages: unknown[]; stopReason: string | null }[];
  /** The tool calls of the last turn. */
  lastCalls: SavedToolCall[];
}

type RawToolCall = Omit<SavedToolCall, "endedAt"> & { endedAt: string | null };

const TURNS_JSON = `coalesce((select json_agg(json_build_object('turn', t.turn, 'messages', t.messages, 'stopReason', t.stop_reason) order by t.turn)
  from conversation_turns t where t.frame_id = $1), '[]')`;
const CALLS_JSON = `coalesce((select json_agg(json_build_object('id', tc.id, 'position', tc.position, 'name', tc.name, 'kind', tc.kind, 'output', tc.output,
  'isError', tc.is_error, 'endedAt', tc.ended_at, 'childFrameId', tc.child_frame_id) order by tc.position)
  from tool_calls tc where tc.frame_id = $1 and tc.turn = (select max(t.turn) from conversation_turns t where t.frame_id = $1)), '[]')`;

/**
 * A queued frame comes with what its admission reads — its realm's mappings and, for an LLM loop,
 * its prompt state — from the same snapshot as the frame: read when the frame is started, in the
 * round trip that claims it. The prompt state is only version numbers: the versions themselves
 * never change, and each worker keeps those it has read (`LoopCatalog.promptVersion`).
 */
const CLAIM_SQL = `with c as (
       update frames set lease_owner = $2, lease_expires_at = $3 where id = $1 and status = 'running' returning id
     )
     select ${FRAME_COLUMNS}, (select count(*) from c)::int as claimed,
            case when f.status = 'running' and f.loop_type = 'llm' then json_build_object('turns', ${TURNS_JSON}, 'calls', ${CALLS_JSON}) end as conversation,
            case when f.status = 'queued' and $4::boolean then
              (select case when count(*) <= ${MAX_CLAIMED_MAPPINGS} then coalesce(json_agg(json_build_object('groupDn', m.group_dn, 'role', m.role)), '[]') end
                 from realm_mappings m where m.realm_id = f.realm_id) end as realm_mappings,
            ps.active_prompt_version as prompt_active, ps.rollout_id, ps.rollout_percent, ps.rollout_sticky_by, ps.rollout_candidate
       from frames f join runs r on r.id = f.run_id
       left join lateral (
         select l.active_prompt_version, ro.id as rollout_id, ro.percent as rollout_percent, ro.sticky_by as rollout_sticky_by,
                ro.candidate_version as rollout_candidate
           from loops l left join prompt_rollouts ro on ro.loop_id = l.id and ro.ended_at is null
          where l.id = f.loop_id and f.status = 'queued' and f.loop_type = 'llm'
          order by ro.started_at desc
          limit 1
       ) ps on true
      where f.id = $1`;

function toSavedToolCall(call: RawToolCall): SavedToolCall {
  return { ...call, endedAt: call.endedAt === null ? null : new Date(call.endedAt) };
}

/** A frame's saved turns and the tool calls of its last one, in one round trip. */
export async function loadConversation(db: SqlExecutor, frameId: string): Promise<SavedConversation> {
  const { rows } = await db.query<{ turns: SavedConversation["turns"]; calls: RawToolCall[] }>(`select ${TURNS_JSON} as turns, ${CALLS_JSON} as calls`, [frameId]);
  const row = rows[0]!;
  return { turns: row.turns, lastCalls: row.calls.map(toSavedToolCall) };
}

export type LoadedToolCall = SavedToolCall & { input: unknown; turn: number };

/** The frame of a tool step with the tool call it answers (null when there is no such call), in one round trip. */
export async function loadToolStep(db: SqlExecutor, frameId: string, toolUseId: string): Promise<{ frame: FrameState; call: LoadedToolCall | null } | null> {
  const { rows } = await db.query<FrameRow & { tool_call: (Omit<LoadedToolCall, "endedAt"> & { endedAt: string | null }) | null }>(
    `select ${FRAME_COLUMNS},
            (select json_build_object('id', tc.id, 'position', tc.position, 'name', tc.name, 'kind', tc.kind, 'input', tc.input, 'output', tc.output,
                    'isError', tc.is_error, 'endedAt', tc.ended_at, 'childFrameId', tc.child_frame_id, 'turn', tc.turn)
               from tool_calls tc where tc.frame_id = f.id and tc.id = $2) as tool_call
       from frames f join runs r on r.id = f.run_id where f.id = $1`,
    [frameId, toolUseId],
  );
  const row = rows[0];
  if (!row) return null;
  const call = row.tool_call ? { ...row.tool_call, endedAt: date(row.tool_call.endedAt) } : null;
  return { frame: toFrameState(row), call };
}

export interface RunEnding {
  status: "cancelled" | "failed";
  error: FrameError;
  /** The frame that caused the ending, which gets `error` itself (e.g. poison work). */
  culprit?: { frameId: string; error: FrameError };
}

/**
 * Ends a run and every frame still queued or running in it, in one transaction (with
 * `alongside`, if given), then tells the workers (which abort what they are executing for it)
 * and the waiting callers. Returns false when the run had already ended.
 *
 * After the run row, the live frames are locked children first (deepest first, then by id), as
 * a finishing child takes its own row before its parent's; a deadlock left with another order
 * (a root frame ending, an MCP tool call answered) rolls the transaction back and it runs again,
 * so the ending is never lost.
 */
export async function endRunEarly(db: SqlDatabase, runId: string, ending: RunEnding, at: Date, alongside?: (tx: SqlExecutor) => Promise<void>): Promise<boolean> {
  return transactionRetryingConflicts(db, async (tx) => {
    await alongside?.(tx);
    const { rows } = await tx.query(
      `update runs set status = $2, error = $3::jsonb, ended_at = $4, cancel_requested_at = coalesce(cancel_requested_at, $4)
        where id = $1 and status in ${LIVE} returning id`,
      [runId, ending.status, storableJson(ending.error), at],
    );
    if (rows.length === 0) return false;
    await tx.query(`select id from frames where run_id = $1 and status in ${LIVE} order by depth desc, id for update`, [runId]);
    if (ending.culprit) {
      await tx.query(
        `update frames set status = 'failed', error = $2::jsonb, ended_at = $3, lease_owner = null, lease_expires_at = null,
                duration_ms = extract(epoch from ($3::timestamptz - coalesce(started_at, $3::timestamptz))) * 1000
          where id = $1 and status in ${LIVE}`,
        [ending.culprit.frameId, storableJson(ending.culprit.error), at],
      );
    }
    const frameStatus = ending.status === "cancelled" || ending.culprit ? "cancelled" : ending.status;
    const frameError = ending.culprit ? { code: "cancelled", message: `The run failed: ${ending.culprit.error.message}` } : ending.error;
    await tx.query(
      `update frames set status = $2, error = $3::jsonb, ended_at = $4, lease_owner = null, lease_expires_at = null,
              duration_ms = extract(epoch from ($4::timestamptz - coalesce(started_at, $4::timestamptz))) * 1000
        where run_id = $1 and status in ${LIVE}`,
      [runId, frameStatus, storableJson(frameError), at],
    );
    await tx.query(
      `update tool_calls set ended_at = $3, is_error = true, output = $2::jsonb,
              duration_ms = extract(epoch from ($3::timestamptz - started_at)) * 1000
        where run_id = $1 and ended_at is null`,
      [runId, storableJson({ error: frameError }), at],
    );
    await tx.query(
      `update runs set input_tokens = (select coalesce(sum(input_tokens), 0) from frames where run_id = $1),
              output_tokens = (select coalesce(sum(output_tokens), 0) from frames where run_id = $1)
        where id = $1`,
      [runId],
    );
    await tx.query(`select pg_notify($1, $2), pg_notify($3, $2)`, [RUN_CANCELLED_CHANNEL, runId, RUN_ENDED_CHANNEL]);
    return true;
  });
}

/** Runs whose deadline passed while no step of theirs was running to notice it. */
export async function listOverdueRuns(db: SqlExecutor, now: Date, limit = 100): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(`select id from runs where status in ${LIVE} and deadline_at < $1 limit $2`, [now, limit]);
  return rows.map((r) => r.id);
}

/** Of these runs, the ones that have ended (their steps still in flight should stop). */
export async function listEndedRuns(db: SqlExecutor, runIds: string[]): Promise<string[]> {
  if (runIds.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(`select id from runs where id = any($1::uuid[]) and status not in ${LIVE}`, [runIds]);
  return rows.map((r) => r.id);
}

/** What a loop revision stored without `limits.timeoutMs` times out after. */
const DEFAULT_FRAME_TIMEOUT_MS = limitsSchema.parse({}).timeoutMs;

export interface TimedOutFrame {
  id: string;
  loopId: string;
  timeoutMs: number;
}

/**
 * Running frames past their own `limits.timeoutMs` that no step holds: LLM frames waiting for
 * the children and tool calls of a turn. A frame a step holds is timed by that step's signal.
 */
export async function listTimedOutFrames(db: SqlExecutor, now: Date, limit = 100): Promise<TimedOutFrame[]> {
  const { rows } = await db.query<{ id: string; loop_id: string; timeout_ms: number }>(
    `select f.id, f.loop_id, x.timeout_ms
       from runs r
       join frames f on f.run_id = r.id
       join loop_revisions lr on lr.loop_id = f.loop_id and lr.revision = f.loop_revision
       cross join lateral (select coalesce((lr.definition->'limits'->>'timeoutMs')::int, $2::int) as timeout_ms) x
      where r.status = 'running' and f.status = 'running' and (f.lease_owner is null or f.lease_expires_at < $1)
        and f.started_at + x.timeout_ms * interval '1 millisecond' < $1
      limit $3`,
    [now, DEFAULT_FRAME_TIMEOUT_MS, limit],
  );
  return rows.map((r) => ({ id: r.id, loopId: r.loop_id, timeoutMs: r.timeout_ms }));
}

/** The claim on a timed-out frame was lost (a step took it, or another worker's sweep ended it): nothing is written. */
class FrameNotClaimedError extends Error {}

/**
 * Ends a frame that ran out of time while no step held it, as a step would have: the frame fails
 * with `error`, its parent's tool call gets the error and the parent resumes (or, for the root,
 * the run fails). Its live descendants end `cancelled` with their open tool calls, and the
 * workers are told to abort what they execute for them. One transaction; it claims the frame
 * only if it is still running without a live lease, so two workers sweeping at once end it once.
 * Returns the ids of the frames it ended, empty when it had nothing to do.
 *
 * Locks are taken children first, as a finishing child takes its own row before its parent's.
 */
export async function endTimedOutFrame(db: SqlDatabase, frameId: string, error: FrameError, at: Date, ctx: FinishContext): Promise<string[]> {
  const descendantError = { code: "cancelled", message: `An enclosing frame ended: ${error.message}` };
  try {
    return await db.transaction(async (tx) => {
      const { rows: live } = await tx.query<{ id: string }>(
        `with recursive d(id) as (
           select id from frames where parent_frame_id = $1
           union all
           select f.id from frames f join d on f.parent_frame_id = d.id
         )
         select f.id from frames f where f.id in (select id from d) and f.status in ${LIVE} order by f.depth desc, f.id for update`,
        [frameId],
      );
      const descendants = live.map((r) => r.id);
      const { rows: claimed } = await tx.query(
        `select id from frames where id = $1 and status = 'running' and (lease_owner is null or lease_expires_at < $2) for update`,
        [frameId, at],
      );
      if (claimed.length === 0) throw new FrameNotClaimedError();
      await tx.query(
        `update frames set status = 'cancelled', error = $2::jsonb, ended_at = $3, lease_owner = null, lease_expires_at = null,
                duration_ms = extract(epoch from ($3::timestamptz - coalesce(started_at, $3::timestamptz))) * 1000
          where id = any($1::uuid[]) and status in ${LIVE}`,
        [descendants, storableJson(descendantError), at],
      );
      await tx.query(
        `update tool_calls set ended_at = $4, is_error = true,
                output = case when frame_id = $2 then $3::jsonb else $5::jsonb end,
                duration_ms = extract(epoch from ($4::timestamptz - started_at)) * 1000
          where frame_id = any($1::uuid[]) and ended_at is null`,
        [[frameId, ...descendants], frameId, storableJson({ error }), at, storableJson({ error: descendantError })],
      );
      const frame = await loadFrame(tx, frameId);
      if (!frame || !(await finishFrame(tx, frame, { status: "failed", output: null, error, endedAt: at }, { inputTokens: 0, outputTokens: 0, attempts: [] }, ctx))) {
        throw new FrameNotClaimedError();
      }
      const ended = [frameId, ...descendants];
      // A NOTIFY payload holds under 8000 bytes.
      for (let i = 0; i < ended.length; i += 150) await tx.query(`select pg_notify($1, $2)`, [FRAMES_ENDED_CHANNEL, ended.slice(i, i + 150).join(",")]);
      return ended;
    });
  } catch (caught) {
    if (caught instanceof FrameNotClaimedError) return [];
    throw caught;
  }
}

/** Of these frames, the ones that have ended (their steps still in flight should stop). */
export async function listEndedFrames(db: SqlExecutor, frameIds: string[]): Promise<string[]> {
  if (frameIds.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(`select id from frames where id = any($1::uuid[]) and status not in ${LIVE}`, [frameIds]);
  return rows.map((r) => r.id);
}
