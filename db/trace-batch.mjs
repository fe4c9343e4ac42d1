// The statement that writes a batch of trace rows, built the same way on the application's
// thread (PostgreSQL) and on PGlite's thread (db/pglite-worker.mjs). Plain JavaScript, so that
// the thread runs it as it is; its types are in trace-batch.d.mts.
import { toStorableJson } from "../lib/runtime/storable.mjs";

// Records are object literals of one shape per table, with timestamps already ISO text: that
// keeps JSON.stringify on its fast path (a Date's toJSON, called from inside it, takes it off).
// A key whose value is undefined is left out of the JSON and reads as SQL NULL in
// `jsonb_to_recordset`; a JSON null would too, except in a jsonb column, where it is jsonb's null.

/** A jsonb column's value: SQL NULL when there is none. */
const jsonb = (value) => value ?? undefined;
/** A timestamptz column's value as the ISO text JSON.stringify would make of it. */
const timestamp = (value) => (value instanceof Date ? value.toISOString() : (value ?? undefined));

/** What can change in a frame once it is written: the columns its upsert updates. */
function frameChanges(f) {
  return {
    status: f.status,
    attempts: f.attempts ?? [],
    output: jsonb(f.output),
    error: jsonb(f.error),
    input_tokens: f.inputTokens ?? 0,
    output_tokens: f.outputTokens ?? 0,
    turns: f.turns ?? 0,
    started_at: timestamp(f.startedAt),
    ended_at: timestamp(f.endedAt),
    duration_ms: f.durationMs ?? undefined,
  };
}

function frameRecord(f) {
  return {
    id: f.id,
    run_id: f.runId,
    parent_frame_id: f.parentFrameId ?? undefined,
    parent_tool_call_id: f.parentToolCallId ?? undefined,
    depth: f.depth,
    seq: f.seq,
    realm_id: f.realmId,
    loop_id: f.loopId,
    loop_revision: f.loopRevision,
    loop_type: f.loopType,
    prompt_version: f.promptVersion ?? undefined,
    prompt_choice: jsonb(f.promptChoice),
    input: jsonb(f.input),
    model: f.model ?? undefined,
    identity: jsonb(f.identity),
    authorization: jsonb(f.authorization),
    created_at: timestamp(f.createdAt),
    ...frameChanges(f),
  };
}

/** A stored frame: its key and what can change. */
function frameUpdateRecord(f) {
  return { id: f.id, ...frameChanges(f) };
}

/** What can change in a tool call once it is written. */
function toolCallChanges(c) {
  return { output: jsonb(c.output), is_error: c.isError ?? false, ended_at: timestamp(c.endedAt), duration_ms: c.durationMs ?? undefined };
}

function toolCallRecord(c) {
  return {
    frame_id: c.frameId,
    id: c.id,
    run_id: c.runId,
    turn: c.turn,
    position: c.position,
    name: c.name,
    kind: c.kind,
    input: jsonb(c.input),
    child_frame_id: c.childFrameId ?? undefined,
    started_at: timestamp(c.startedAt),
    ...toolCallChanges(c),
  };
}

/** A stored tool call: its key and what can change. */
function toolCallUpdateRecord(c) {
  return { frame_id: c.frameId, id: c.id, ...toolCallChanges(c) };
}

function turnRecord(t) {
  return {
    frame_id: t.frameId,
    turn: t.turn.turn,
    messages: jsonb(t.turn.messages),
    stop_reason: t.turn.stopReason ?? undefined,
    input_tokens: t.turn.inputTokens,
    output_tokens: t.turn.outputTokens,
    created_at: timestamp(t.createdAt),
  };
}

/** A run's end, as `runs` stores it. */
function runEndRecord(r) {
  return {
    id: r.runId,
    status: r.status,
    output: jsonb(r.output),
    error: jsonb(r.error),
    ended_at: timestamp(r.endedAt),
    frame_count: r.frameCount,
    input_tokens: r.inputTokens,
    output_tokens: r.outputTokens,
  };
}

const FRAMES_SQL = [
  `insert into frames (id, run_id, parent_frame_id, parent_tool_call_id, depth, seq, realm_id, loop_id, loop_revision, loop_type,
    prompt_version, prompt_choice, status, attempts, input, output, error, model, input_tokens, output_tokens, turns, identity,
    "authorization", created_at, started_at, ended_at, duration_ms)
  select id, run_id, parent_frame_id, parent_tool_call_id, depth, seq, realm_id, loop_id, loop_revision, loop_type,
    prompt_version, prompt_choice, status, attempts, input, output, error, model, input_tokens, output_tokens, turns, identity,
    "authorization", created_at, started_at, ended_at, duration_ms
  from jsonb_to_recordset(`,
  `::jsonb) as x(id uuid, run_id uuid, parent_frame_id uuid, parent_tool_call_id text,
    depth int, seq int, realm_id text, loop_id text, loop_revision int, loop_type text, prompt_version int, prompt_choice jsonb,
    status text, attempts jsonb, input jsonb, output jsonb, error jsonb, model text, input_tokens int, output_tokens int, turns int,
    identity jsonb, "authorization" jsonb, created_at timestamptz, started_at timestamptz, ended_at timestamptz, duration_ms float8)
  on conflict (id) do update set status = excluded.status, attempts = excluded.attempts, output = excluded.output,
    error = excluded.error, input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens, turns = excluded.turns,
    started_at = excluded.started_at, ended_at = excluded.ended_at, duration_ms = excluded.duration_ms`,
];

const TOOL_CALLS_SQL = [
  `insert into tool_calls (frame_id, id, run_id, turn, position, name, kind, input, output, is_error, child_frame_id, started_at, ended_at, duration_ms)
  select frame_id, id, run_id, turn, position, name, kind, input, output, is_error, child_frame_id, started_at, ended_at, duration_ms
  from jsonb_to_recordset(`,
  `::jsonb) as x(frame_id uuid, id text, run_id uuid, turn int, position int, name text,
    kind text, input jsonb, output jsonb, is_error boolean, child_frame_id uuid, started_at timestamptz, ended_at timestamptz, duration_ms float8)
  on conflict (frame_id, id) do update set output = excluded.output, is_error = excluded.is_error, ended_at = excluded.ended_at,
    duration_ms = excluded.duration_ms`,
];

// Rows already stored are sent with only what can change, and updated as their upserts would be.
const FRAME_UPDATES_SQL = [
  `update frames as f set status = x.status, attempts = x.attempts, output = x.output, error = x.error,
    input_tokens = x.input_tokens, output_tokens = x.output_tokens, turns = x.turns, started_at = x.started_at,
    ended_at = x.ended_at, duration_ms = x.duration_ms
  from jsonb_to_recordset(`,
  `::jsonb) as x(id uuid, status text, attempts jsonb, output jsonb, error jsonb, input_tokens int, output_tokens int,
    turns int, started_at timestamptz, ended_at timestamptz, duration_ms float8)
  where f.id = x.id`,
];

const TOOL_CALL_UPDATES_SQL = [
  `update tool_calls as t set output = x.output, is_error = x.is_error, ended_at = x.ended_at, duration_ms = x.duration_ms
  from jsonb_to_recordset(`,
  `::jsonb) as x(frame_id uuid, id text, output jsonb, is_error boolean, ended_at timestamptz, duration_ms float8)
  where t.frame_id = x.frame_id and t.id = x.id`,
];

const TURNS_SQL = [
  `insert into conversation_turns (frame_id, turn, messages, stop_reason, input_tokens, output_tokens, created_at)
  select frame_id, turn, messages, stop_reason, input_tokens, output_tokens, created_at
  from jsonb_to_recordset(`,
  `::jsonb) as x(frame_id uuid, turn int, messages jsonb, stop_reason text,
    input_tokens int, output_tokens int, created_at timestamptz)
  on conflict (frame_id, turn) do update set messages = excluded.messages, stop_reason = excluded.stop_reason,
    input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens`,
];

// A run ends in the statement that writes its last trace rows. A count left out keeps its value.
const RUN_ENDS_SQL = [
  `update runs as r set status = x.status, output = x.output, error = x.error, ended_at = coalesce(x.ended_at, r.ended_at),
    frame_count = coalesce(x.frame_count, r.frame_count), input_tokens = coalesce(x.input_tokens, r.input_tokens),
    output_tokens = coalesce(x.output_tokens, r.output_tokens)
  from jsonb_to_recordset(`,
  `::jsonb) as x(id uuid, status text, output jsonb, error jsonb, ended_at timestamptz, frame_count int, input_tokens int,
    output_tokens int)
  where r.id = x.id`,
];

/**
 * The statement for a batch, as the pieces of SQL around its parameters (one JSON text per
 * table), or null for an empty batch. Several tables are written by sibling data-modifying CTEs:
 * one statement, one round trip. `replacedValues` says whether a value had to be stored as U+FFFD.
 */
export function traceBatchStatement(batch) {
  const parts = [];
  let replacedValues = false;
  const add = (sqlAround, rows, toRecord) => {
    if (rows.length === 0) return;
    const { json, replaced } = toStorableJson(rows.map(toRecord));
    if (replaced) replacedValues = true;
    parts.push({ sqlAround, json });
  };
  add(FRAMES_SQL, batch.frames, frameRecord);
  add(FRAME_UPDATES_SQL, batch.frameUpdates ?? [], frameUpdateRecord);
  add(TOOL_CALLS_SQL, batch.toolCalls, toolCallRecord);
  add(TOOL_CALL_UPDATES_SQL, batch.toolCallUpdates ?? [], toolCallUpdateRecord);
  add(TURNS_SQL, batch.turns ?? [], turnRecord);
  add(RUN_ENDS_SQL, batch.runEnds ?? [], runEndRecord);
  if (parts.length === 0) return null;
  if (parts.length === 1) {
    const [{ sqlAround, json }] = parts;
    return { pieces: [...sqlAround], params: [json], replacedValues };
  }
  const pieces = ["with w0 as ("];
  parts.forEach(({ sqlAround }, i) => {
    pieces[pieces.length - 1] += sqlAround[0];
    pieces.push(`${sqlAround[1]} returning 1)${i < parts.length - 1 ? `, w${i + 1} as (` : " select 1"}`);
  });
  return { pieces, params: parts.map((part) => part.json), replacedValues };
}

/** The statement's text with numbered placeholders, for a driver called directly. */
export function statementText(pieces) {
  return pieces.reduce((text, piece, i) => `${text}$${i}${piece}`);
}
