import { check, index, pgTable, real, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { sql } from "drizzle-orm";
import { loops } from "./loops";

/**
 * Evaluator loops of a loop: after a frame of `loopId` succeeds, `evaluatorLoopId` runs on a
 * `sampleRate` share of them and its answer becomes a score. Kept apart from the loop's
 * definition so that configuring an evaluator neither makes a new revision nor a prompt version.
 */
export const loopEvaluators = pgTable(
  "loop_evaluators",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    loopId: text("loop_id")
      .notNull()
      .references(() => loops.id, { onDelete: "cascade" }),
    evaluatorLoopId: text("evaluator_loop_id")
      .notNull()
      .references(() => loops.id, { onDelete: "cascade" }),
    /** 0..1: the share of succeeded frames that are evaluated. */
    sampleRate: real("sample_rate").notNull(),
    /** The name the resulting scores carry. */
    scoreName: text("score_name").notNull().default("quality"),
    createdBy: text("created_by").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("loop_evaluators_pair").on(t.loopId, t.evaluatorLoopId),
    index("loop_evaluators_evaluator").on(t.evaluatorLoopId),
    check("loop_evaluators_sample_rate", sql`${t.sampleRate} >= 0 and ${t.sampleRate} <= 1`),
  ],
);
