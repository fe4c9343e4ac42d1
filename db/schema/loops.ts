import {
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { realms } from "./governance";

/** A registered loop: its identity and pointers to the current revision and active prompt. */
export const loops = pgTable(
  "loops",
  {
    id: text("id").primaryKey(),
    realmId: text("realm_id")
      .notNull()
      .references(() => realms.id),
    type: text("type").notNull(),
    description: text("description").notNull().default(""),
    currentRevision: integer("current_revision").notNull(),
    /** LLM loops only: the prompt version the executor loads at execution time. */
    activePromptVersion: integer("active_prompt_version"),
    createdBy: text("created_by").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("loops_realm").on(t.realmId)],
);

/** Immutable: any change to a definition appends a revision; frames record the one they ran. */
export const loopRevisions = pgTable(
  "loop_revisions",
  {
    loopId: text("loop_id")
      .notNull()
      .references(() => loops.id, { onDelete: "cascade" }),
    revision: integer("revision").notNull(),
    definition: jsonb("definition").$type<Record<string, unknown>>().notNull(),
    /** SHA-256 of the canonical definition; an identical re-registration is a no-op. */
    hash: text("hash").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.loopId, t.revision] })],
);

/** Immutable prompt versions of an LLM loop, numbered 1, 2, 3… per loop. */
export const promptVersions = pgTable(
  "prompt_versions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    loopId: text("loop_id")
      .notNull()
      .references(() => loops.id, { onDelete: "cascade" }),
    version: integer("version").notNull(),
    systemPrompt: text("system_prompt").notNull(),
    /** Model parameters that belong to the prompt: model, maxTokens, temperature. */
    params: jsonb("params").$type<Record<string, unknown>>().notNull().default({}),
    author: text("author").notNull(),
    message: text("message").notNull().default(""),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("prompt_versions_loop_version").on(t.loopId, t.version)],
);

/** Every move of the active label: initial activation, promotion, rollback. */
export const promptPromotions = pgTable(
  "prompt_promotions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    loopId: text("loop_id")
      .notNull()
      .references(() => loops.id, { onDelete: "cascade" }),
    kind: text("kind").notNull(),
    fromVersion: integer("from_version"),
    toVersion: integer("to_version").notNull(),
    actor: text("actor").notNull(),
    reason: text("reason").notNull().default(""),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("prompt_promotions_loop").on(t.loopId, t.createdAt)],
);

/** A weighted, sticky rollout of a candidate version beside the active one. */
export const promptRollouts = pgTable(
  "prompt_rollouts",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    loopId: text("loop_id")
      .notNull()
      .references(() => loops.id, { onDelete: "cascade" }),
    candidateVersion: integer("candidate_version").notNull(),
    percent: real("percent").notNull(),
    /** `caller`, or `input:<json path>` to stick on a field of the input. */
    stickyBy: text("sticky_by").notNull().default("caller"),
    startedBy: text("started_by").notNull(),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    endedBy: text("ended_by"),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    /** `stopped` or `completed` (the candidate was promoted). */
    outcome: text("outcome"),
  },
  (t) => [index("prompt_rollouts_loop").on(t.loopId)],
);
