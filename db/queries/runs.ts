import { and, asc, desc, eq, getTableColumns, gte, lt, lte, sql } from "drizzle-orm";
import pg from "pg";
import type {
  FramePatch,
  NewFrame,
  NewRun,
  NewToolCall,
  RunPatch,
  SavedTurn,
  ToolCallPatch,
  TraceBatch,
  TraceBatchWritten,
} from "../../lib/runtime/store";
import { storable } from "../../lib/runtime/storable.mjs";
import { buildTraceTree, traceFrameFromRow } from "../../lib/runtime/trace";
import type {
  Attempt,
  AuthorizationDecision,
  FrameError,
  FrameStatus,
  Identity,
  TraceFrame,
} from "../../lib/runtime/types";
import type { Db } from "../client";
import { oncePerDatabase, prepared, prepareNamed } from "../prepared-statement";
import { statementText, traceBatchStatement } from "../trace-batch.mjs";
import { traceThreadOf } from "../trace-thread";
import { conversationTurns, frames, runs, toolCalls } from "../schema";
import { auditAppendCall, prepareAuditAppend, type AuditAppendRow, type AuditEventInput } from "./audit";
import { realmCondition, type RealmScope } from "./scope";

/** A run's row as its insert writes it. */
function insertRunQuery(db: Db, run: NewRun) {
  return db.insert(runs).values({
    id: run.id,
    realmId: run.realmId,
    loopId: run.loopId,
    loopRevision: run.loopRevision,
    status: run.status,
    input: run.input ?? null,
    identity: run.identity as unknown as Record<string, unknown>,
    caller: run.identity.subject,
    createdAt: run.createdAt,
    startedAt: run.createdAt,
    deadlineAt: run.deadlineAt,
    evaluatesFrameId: run.evaluatesFrameId ?? null,
    promptOverride: run.promptOverride ?? null,
  });
}

export async function insertRun(db: Db, run: NewRun): Promise<void> {
  await insertRunQuery(db, run);
}

/**
 * Records a run and the audit event of its start in one statement, so in one transaction and
 * one round trip: when the event cannot be appended, the run is not recorded either.
 */
export async function insertRunWithEvent(db: Db, run: NewRun, event: AuditEventInput): Promise<void> {
  const append = prepareAuditAppend(event);
  const result = (await db.execute(sql`
    with run as (${insertRunQuery(db, run).returning({ id: runs.id }).getSQL()})
    select event.event_id, event.event_seq, event.event_prev_hash, event.event_hash
    from run cross join lateral ${auditAppendCall(append)} as event`)) as unknown as { rows: AuditAppendRow[] };
  append.event(result.rows);
}

export async function updateRun(db: Db, runId: string, patch: RunPatch): Promise<void> {
  await db
    .update(runs)
    .set({
      status: patch.status,
      ...(patch.output !== undefined ? { output: storable(patch.output) } : {}),
      ...(patch.error !== undefined ? { error: storable(patch.error) as Record<string, unknown> | null } : {}),
      ...(patch.endedAt ? { endedAt: patch.endedAt } : {}),
      ...(patch.frameCount !== undefined ? { frameCount: patch.frameCount } : {}),
      ...(patch.inputTokens !== undefined ? { inputTokens: patch.inputTokens } : {}),
      ...(patch.outputTokens !== undefined ? { outputTokens: patch.outputTokens } : {}),
    })
    .where(eq(runs.id, runId));
}

/**
 * The writes every frame makes, prepared once per database handle: building a Drizzle query
 * costs more CPU than PGlite needs to run one of these small statements, and PostgreSQL skips
 * parsing and planning them. Values are serialised here rather than by the column encoders,
 * which would store a null as the JSON value `null` instead of SQL NULL.
 */
function prepareFrameWrites(db: Db) {
  const value = (name: string) => sql`${sql.placeholder(name)}`;
  const json = (name: string) => sql`${sql.placeholder(name)}::jsonb`;
  const time = (name: string) => sql`${sql.placeholder(name)}::timestamptz`;
  return {
    insertFrame: prepareNamed(
      "insert_frame",
      db.insert(frames).values({
        id: value("id"),
        runId: value("runId"),
        parentFrameId: value("parentFrameId"),
        parentToolCallId: value("parentToolCallId"),
        depth: value("depth"),
        seq: value("seq"),
        realmId: value("realmId"),
        loopId: value("loopId"),
        loopRevision: value("loopRevision"),
        loopType: value("loopType"),
        promptVersion: value("promptVersion"),
        promptChoice: json("promptChoice"),
        status: value("status"),
        input: json("input"),
        error: json("error"),
        model: value("model"),
        identity: json("identity"),
        authorization: json("authorization"),
        createdAt: time("createdAt"),
        startedAt: time("startedAt"),
        endedAt: time("endedAt"),
      }),
    ),
    finishFrame: prepareNamed(
      "finish_frame",
      db
        .update(frames)
        .set({
          status: value("status"),
          output: json("output"),
          error: json("error"),
          attempts: json("attempts"),
          inputTokens: value("inputTokens"),
          outputTokens: value("outputTokens"),
          turns: value("turns"),
          endedAt: time("endedAt"),
          durationMs: value("durationMs"),
        })
        .where(eq(frames.id, value("frameId"))),
    ),
    insertToolCall: prepareNamed(
      "insert_tool_call",
      db.insert(toolCalls).values({
        frameId: value("frameId"),
        id: value("id"),
        runId: value("runId"),
        turn: value("turn"),
        position: value("position"),
        name: value("name"),
        kind: value("kind"),
        input: json("input"),
        childFrameId: value("childFrameId"),
        startedAt: time("startedAt"),
      }),
    ),
    finishToolCall: prepareNamed(
      "finish_tool_call",
      db
        .update(toolCalls)
        .set({ output: json("output"), isError: value("isError"), endedAt: time("endedAt"), durationMs: value("durationMs") })
        .where(and(eq(toolCalls.frameId, value("frameId")), eq(toolCalls.id, value("id")))),
    ),
    saveTurn: prepareNamed(
      "save_turn",
      db
        .insert(conversationTurns)
        .values({
          frameId: value("frameId"),
          turn: value("turn"),
          messages: json("messages"),
          stopReason: value("stopReason"),
          inputTokens: value("inputTokens"),
          outputTokens: value("outputTokens"),
          createdAt: time("createdAt"),
        })
        .onConflictDoUpdate({
          target: [conversationTurns.frameId, conversationTurns.turn],
          set: { messages: json("messages"), stopReason: value("stopReason"), inputTokens: value("inputTokens"), outputTokens: value("outputTokens") },
        }),
    ),
  };
}

const frameWrites = oncePerDatabase(prepareFrameWrites);

function jsonParam(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

function timeParam(value: Date | null | undefined): string | null {
  return value ? value.toISOString() : null;
}

export async function insertFrame(db: Db, frame: NewFrame): Promise<void> {
  await frameWrites(db).insertFrame.execute({
    id: frame.id,
    runId: frame.runId,
    parentFrameId: frame.parentFrameId,
    parentToolCallId: frame.parentToolCallId,
    depth: frame.depth,
    seq: frame.seq,
    realmId: frame.realmId,
    loopId: frame.loopId,
    loopRevision: frame.loopRevision,
    loopType: frame.loopType,
    promptVersion: frame.promptVersion,
    promptChoice: jsonParam(frame.promptChoice),
    status: frame.status,
    input: jsonParam(frame.input),
    error: jsonParam(frame.error),
    model: frame.model,
    identity: jsonParam(frame.identity),
    authorization: jsonParam(frame.authorization),
    createdAt: timeParam(frame.createdAt),
    startedAt: timeParam(frame.startedAt),
    endedAt: timeParam(frame.endedAt),
  });
}

/** The patch the executor writes when a frame ends: every column set. */
function isFinalFramePatch(patch: FramePatch): patch is Required<FramePatch> {
  return (
    patch.output !== undefined &&
    patch.error !== undefined &&
    patch.attempts !== undefined &&
    patch.inputTokens !== undefined &&
    patch.outputTokens !== undefined &&
    patch.turns !== undefined &&
    patch.endedAt !== undefined &&
    patch.durationMs !== undefined
  );
}

export async function updateFrame(db: Db, frameId: string, patch: FramePatch): Promise<void> {
  if (isFinalFramePatch(patch)) {
    await frameWrites(db).finishFrame.execute({
      frameId,
      status: patch.status,
      output: jsonParam(patch.output),
      error: jsonParam(patch.error),
      attempts: jsonParam(patch.attempts),
      inputTokens: patch.inputTokens,
      outputTokens: patch.outputTokens,
      turns: patch.turns,
      endedAt: timeParam(patch.endedAt),
      durationMs: patch.durationMs,
    });
    return;
  }
  // A partial patch leaves the columns it does not name as they are.
  await db
    .update(frames)
    .set({
      status: patch.status,
      ...(patch.output !== undefined ? { output: storable(patch.output) } : {}),
      ...(patch.error !== undefined ? { error: storable(patch.error) as Record<string, unknown> | null } : {}),
      ...(patch.attempts ? { attempts: patch.attempts as unknown as Record<string, unknown>[] } : {}),
      ...(patch.inputTokens !== undefined ? { inputTokens: patch.inputTokens } : {}),
      ...(patch.outputTokens !== undefined ? { outputTokens: patch.outputTokens } : {}),
      ...(patch.turns !== undefined ? { turns: patch.turns } : {}),
      ...(patch.endedAt ? { endedAt: patch.endedAt } : {}),
      ...(patch.durationMs !== undefined ? { durationMs: patch.durationMs } : {}),
    })
    .where(eq(frames.id, frameId));
}

export async function insertToolCall(db: Db, call: NewToolCall): Promise<void> {
  await frameWrites(db).insertToolCall.execute({
    frameId: call.frameId,
    id: call.id,
    runId: call.runId,
    turn: call.turn,
    position: call.position,
    name: call.name,
    kind: call.kind,
    input: jsonParam(call.input),
    childFrameId: call.childFrameId,
    startedAt: timeParam(call.startedAt),
  });
}

export async function updateToolCall(db: Db, frameId: string, id: string, patch: ToolCallPatch): Promise<void> {
  await frameWrites(db).finishToolCall.execute({
    frameId,
    id,
    output: jsonParam(patch.output),
    isError: patch.isError,
    endedAt: timeParam(patch.endedAt),
    durationMs: patch.durationMs,
  });
}

export async function insertConversationTurn(db: Db, frameId: string, turn: SavedTurn, createdAt: Date): Promise<void> {
  await frameWrites(db).saveTurn.execute({
    frameId,
    turn: turn.turn,
    messages: jsonParam(turn.messages),
    stopReason: turn.stopReason,
    inputTokens: turn.inputTokens,
    outputTokens: turn.outputTokens,
    createdAt: timeParam(createdAt),
  });
}

export async function listConversationTurns(db: Db, frameId: string): Promise<SavedTurn[]> {
  const rows = await db
    .select({
      turn: conversationTurns.turn,
      messages: conversationTurns.messages,
      stopReason: conversationTurns.stopReason,
      inputTokens: conversationTurns.inputTokens,
      outputTokens: conversationTurns.outputTokens,
    })
    .from(conversationTurns)
    .where(eq(conversationTurns.frameId, frameId))
    .orderBy(asc(conversationTurns.turn));
  return rows;
}

type ToolCallJson = {
  id: string;
  turn: number;
  name: string;
  kind: string;
  input: unknown;
  output: unknown;
  is_error: boolean;
  child_frame_id: string | null;
  started_at: string;
  ended_at: string | null;
  duration_ms: number | null;
};

function toTraceFrame(row: typeof frames.$inferSelect & { toolCalls: ToolCallJson[] }): TraceFrame {
  const { toolCalls: calls, ...frame } = row;
  return traceFrameFromRow(
    {
      ...frame,
      status: frame.status as FrameStatus,
      identity: frame.identity as unknown as Identity,
      authorization: frame.authorization as unknown as AuthorizationDecision,
      attempts: frame.attempts as unknown as Attempt[],
      error: frame.error as FrameError | null,
    },
    calls.map((c) => ({
      id: c.id,
      turn: c.turn,
      name: c.name,
      kind: c.kind as NewToolCall["kind"],
      input: c.input,
      output: c.output,
      isError: c.is_error,
      childFrameId: c.child_frame_id,
      // json_agg renders timestamps in the session's format.
      startedAt: new Date(c.started_at),
      endedAt: c.ended_at === null ? null : new Date(c.ended_at),
      durationMs: c.duration_ms,
    })),
  );
}

/** Every frame of a run with its tool calls, in one query, in creation order. */
export async function listRunFrames(db: Db, params: { runId: string; scope: RealmScope }): Promise<TraceFrame[]> {
  const rows = await db
    .select({
      ...getTableColumns(frames),
      toolCalls: sql<ToolCallJson[]>`coalesce((
        select json_agg(json_build_object(
          'id', tc.id, 'turn', tc.turn, 'name', tc.name, 'kind', tc.kind, 'input', tc.input,
          'output', tc.output, 'is_error', tc.is_error, 'child_frame_id', tc.child_frame_id,
          'started_at', tc.started_at, 'ended_at', tc.ended_at, 'duration_ms', tc.duration_ms
        ) order by tc.turn, tc.position)
        from ${toolCalls} tc where tc.frame_id = "frames"."id"
      ), '[]'::json)`,
    })
    .from(frames)
    .where(and(eq(frames.runId, params.runId), realmCondition(frames.realmId, params.scope)))
    .orderBy(asc(frames.seq));
  return rows.map(toTraceFrame);
}

/** The Loop Stack Tree of a run, or null when the run does not exist in the caller's realms. */
export async function getRunTree(db: Db, params: { runId: string; scope: RealmScope }): Promise<TraceFrame | null> {
  return buildTraceTree(await listRunFrames(db, params));
}

export type RunSummary = Omit<typeof runs.$inferSelect, "input" | "output"> & { durationMs: number | null };

export async function getRun(db: Db, params: { runId: string; scope: RealmScope }) {
  const [row] = await db
    .select()
    .from(runs)
    .where(and(eq(runs.id, params.runId), realmCondition(runs.realmId, params.scope)))
    .limit(1);
  return row ?? null;
}

export interface ListRunsParams {
  scope: RealmScope;
  loopId?: string;
  status?: string;
  realm?: string;
  caller?: string;
  from?: Date;
  to?: Date;
  limit?: number;
  /** Keyset pagination: the createdAt/id of the last row of the previous page. */
  before?: { createdAt: Date; id: string };
}

export async function listRuns(db: Db, params: ListRunsParams): Promise<RunSummary[]> {
  const { input: _input, output: _output, ...columns } = getTableColumns(runs);
  const conditions = [realmCondition(runs.realmId, params.scope)];
  if (params.loopId) conditions.push(eq(runs.loopId, params.loopId));
  if (params.status) conditions.push(eq(runs.status, params.status));
  if (params.realm) conditions.push(eq(runs.realmId, params.realm));
  if (params.caller) conditions.push(eq(runs.caller, params.caller));
  if (params.from) conditions.push(gte(runs.createdAt, params.from));
  if (params.to) conditions.push(lte(runs.createdAt, params.to));
  if (params.before) {
    conditions.push(
      sql`(${runs.createdAt}, ${runs.id}) < (${params.before.createdAt.toISOString()}::timestamptz, ${params.before.id}::uuid)`,
    );
  }
  const rows = await db
    .select({
      ...columns,
      durationMs: sql<number | null>`(extract(epoch from (${runs.endedAt} - ${runs.startedAt})) * 1000)::float8`,
    })
    .from(runs)
    .where(and(...conditions))
    .orderBy(desc(runs.createdAt), desc(runs.id))
    .limit(Math.min(params.limit ?? 50, 500));
  return rows;
}

/** Runs that a crashed process left running past a cutoff; used on start-up to mark them. */
export async function listStaleRuns(db: Db, olderThan: Date) {
  return db
    .select({ id: runs.id })
    .from(runs)
    .where(and(eq(runs.status, "running"), lt(runs.createdAt, olderThan)));
}

/** The pool under a database opened on PostgreSQL (a transaction has none): batches skip the ORM's query building. */
function poolOf(db: Db): pg.Pool | undefined {
  const client = (db as unknown as { $client?: unknown }).$client;
  return client instanceof pg.Pool ? client : undefined;
}

/**
 * Writes many frames, tool calls and conversation turns in one statement, whatever their
 * number: each row is the latest state of a frame, call or turn, inserted or updated in place.
 * Each table's rows travel as one JSON parameter, so the cost per frame is a few microseconds of
 * SQL, not a round trip. (Foreign keys are checked at the end of the statement, so a tool call
 * may refer to a frame inserted beside it.) On PGlite, the statement is built and its JSON
 * made on the database's own thread (see `db/trace-thread.ts`).
 */
export async function upsertTraceBatch(db: Db, batch: TraceBatch): Promise<TraceBatchWritten> {
  const thread = traceThreadOf(db);
  if (thread) return thread.write(batch);
  const statement = traceBatchStatement(batch);
  if (!statement) return { replacedValues: false };
  const pool = poolOf(db);
  if (pool) {
    // A batch's statement is one of a few shapes (which tables it writes), each prepared once per connection.
    await pool.query(prepared(statementText(statement.pieces), statement.params));
    return { replacedValues: statement.replacedValues };
  }
  await db.execute(sql(Object.assign([...statement.pieces], { raw: statement.pieces }) as TemplateStringsArray, ...statement.params));
  return { replacedValues: statement.replacedValues };
}
