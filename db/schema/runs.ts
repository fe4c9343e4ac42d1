import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";

/** One top-level invocation. */
export const runs = pgTable(
  "runs",
  {
    id: uuid("id").primaryKey(),
    realmId: text("realm_id").notNull(),
    loopId: text("loop_id").notNull(),
    loopRevision: integer("loop_revision").notNull(),
    status: text("status").notNull(),
    input: jsonb("input"),
    output: jsonb("output"),
    error: jsonb("error").$type<Record<string, unknown>>(),
    identity: jsonb("identity").$type<Record<string, unknown>>().notNull(),
    caller: text("caller").notNull(),
    frameCount: integer("frame_count").notNull().default(0),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    deadlineAt: timestamp("deadline_at", { withTimezone: true }),
    cancelRequestedAt: timestamp("cancel_requested_at", { withTimezone: true }),
    /** Set on an evaluator's run: the frame it scores. Only the runtime sets it, never a caller. */
    evaluatesFrameId: uuid("evaluates_frame_id"),
    /** A replay: the prompt version every frame of one loop in the run runs, instead of the active one. */
    promptOverride: jsonb("prompt_override").$type<{ loopId: string; version: number }>(),
  },
  (t) => [
    index("runs_realm_created").on(t.realmId, sql`${t.createdAt} desc`),
    index("runs_loop_created").on(t.loopId, sql`${t.createdAt} desc`),
    index("runs_status").on(t.status),
  ],
);

/** One loop invocation inside a run; `parentFrameId` makes the Loop Stack Tree exact. */
export const frames = pgTable(
  "frames",
  {
    id: uuid("id").primaryKey(),
    runId: uuid("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    parentFrameId: uuid("parent_frame_id"),
    /** The tool_use id in the parent's conversation that spawned this frame. */
    parentToolCallId: text("parent_tool_call_id"),
    depth: integer("depth").notNull(),
    /** Order of creation within the run. */
    seq: integer("seq").notNull(),
    realmId: text("realm_id").notNull(),
    loopId: text("loop_id").notNull(),
    loopRevision: integer("loop_revision").notNull(),
    loopType: text("loop_type").notNull(),
    promptVersion: integer("prompt_version"),
    /** Why this prompt version ran: `{ reason: "active" | "rollout", rolloutId?, bucket? }`. */
    promptChoice: jsonb("prompt_choice").$type<Record<string, unknown>>(),
    status: text("status").notNull(),
    attempts: jsonb("attempts").$type<Record<string, unknown>[]>().notNull().default([]),
    input: jsonb("input"),
    output: jsonb("output"),
    error: jsonb("error").$type<Record<string, unknown>>(),
    model: text("model"),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    turns: integer("turns").notNull().default(0),
    /**
     * Cluster mode: the tool calls of the last saved turn not yet answered. Each answer takes one
     * off in the statement that records it, and the answer that takes it to 0 resumes the frame.
     * Null for turns saved before the column existed, whose open calls are counted instead.
     */
    openToolCalls: integer("open_tool_calls"),
    identity: jsonb("identity").$type<Record<string, unknown>>().notNull(),
    authorization: jsonb("authorization").$type<Record<string, unknown>>().notNull(),
    /** Worker bookkeeping for durable execution: who holds the frame, and its lease. */
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: timestamp("lease_expires_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    /** Microsecond precision however long the frame ran (a 4-byte real would round a 45 s duration). */
    durationMs: doublePrecision("duration_ms"),
  },
  (t) => [
    index("frames_run_seq").on(t.runId, t.seq),
    index("frames_parent").on(t.parentFrameId),
    index("frames_loop_prompt").on(t.loopId, t.promptVersion),
  ],
);

/** A tool call made by an LLM frame; `childFrameId` links it to the frame it spawned. */
export const toolCalls = pgTable(
  "tool_calls",
  {
    frameId: uuid("frame_id")
      .notNull()
      .references(() => frames.id, { onDelete: "cascade" }),
    /** The model's tool_use id. */
    id: text("id").notNull(),
    runId: uuid("run_id").notNull(),
    turn: integer("turn").notNull(),
    /** Order of the tool_use block within the assistant message. */
    position: integer("position").notNull().default(0),
    name: text("name").notNull(),
    kind: text("kind").notNull(),
    input: jsonb("input"),
    output: jsonb("output"),
    isError: boolean("is_error").notNull().default(false),
    childFrameId: uuid("child_frame_id"),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    durationMs: doublePrecision("duration_ms"),
  },
  (t) => [primaryKey({ columns: [t.frameId, t.id] }), index("tool_calls_run").on(t.runId)],
);

/**
 * The LLM conversation after each turn, so a frame can resume on another worker:
 * `messages` holds the assistant message and the tool results that answered it.
 */
export const conversationTurns = pgTable(
  "conversation_turns",
  {
    frameId: uuid("frame_id")
      .notNull()
      .references(() => frames.id, { onDelete: "cascade" }),
    turn: integer("turn").notNull(),
    messages: jsonb("messages").$type<unknown[]>().notNull(),
    stopReason: text("stop_reason"),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.frameId, t.turn] })],
);

/** A number or label attached to a frame, attributable to the prompt version that produced it. */
export const scores = pgTable(
  "scores",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    frameId: uuid("frame_id")
      .notNull()
      .references(() => frames.id, { onDelete: "cascade" }),
    runId: uuid("run_id").notNull(),
    realmId: text("realm_id").notNull(),
    loopId: text("loop_id").notNull(),
    promptVersion: integer("prompt_version"),
    name: text("name").notNull().default("quality"),
    value: doublePrecision("value"),
    label: text("label"),
    comment: text("comment").notNull().default(""),
    /** `human`, `api` or `evaluator`. */
    source: text("source").notNull(),
    author: text("author").notNull(),
    evaluatorRunId: uuid("evaluator_run_id"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("scores_frame").on(t.frameId),
    index("scores_loop_prompt").on(t.loopId, t.promptVersion),
  ],
);

/** Processes that execute work in cluster mode, with their heartbeat. */
export const workers = pgTable("workers", {
  id: text("id").primaryKey(),
  host: text("host").notNull(),
  pid: integer("pid").notNull(),
  version: text("version").notNull(),
  startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
  heartbeatAt: timestamp("heartbeat_at", { withTimezone: true }).notNull(),
  currentWork: jsonb("current_work").$type<unknown[]>().notNull().default([]),
  processed: bigint("processed", { mode: "number" }).notNull().default(0),
});
