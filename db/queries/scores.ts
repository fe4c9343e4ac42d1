import { and, asc, eq, inArray } from "drizzle-orm";
import type { Db } from "../client";
import { frames, scores } from "../schema";
import { realmCondition, type RealmScope } from "./scope";

export type ScoreSource = "human" | "api" | "evaluator";

export interface Score {
  id: string;
  frameId: string;
  runId: string;
  realmId: string;
  loopId: string;
  promptVersion: number | null;
  name: string;
  value: number | null;
  label: string | null;
  comment: string;
  source: ScoreSource;
  author: string;
  evaluatorRunId: string | null;
  createdAt: string;
}

function toScore(row: typeof scores.$inferSelect): Score {
  return {
    id: row.id,
    frameId: row.frameId,
    runId: row.runId,
    realmId: row.realmId,
    loopId: row.loopId,
    promptVersion: row.promptVersion,
    name: row.name,
    value: row.value,
    label: row.label,
    comment: row.comment,
    source: row.source as ScoreSource,
    author: row.author,
    evaluatorRunId: row.evaluatorRunId,
    createdAt: row.createdAt.toISOString(),
  };
}

export interface ScoredFrame {
  id: string;
  runId: string;
  realmId: string;
  loopId: string;
  promptVersion: number | null;
  status: string;
}

/** What a score copies from its frame, so it stays attributable to the prompt version that ran. */
export async function getFrameForScoring(db: Db, { frameId, scope }: { frameId: string; scope: RealmScope }): Promise<ScoredFrame | null> {
  const [row] = await db
    .select({
      id: frames.id,
      runId: frames.runId,
      realmId: frames.realmId,
      loopId: frames.loopId,
      promptVersion: frames.promptVersion,
      status: frames.status,
    })
    .from(frames)
    .where(and(eq(frames.id, frameId), realmCondition(frames.realmId, scope)));
  return row ?? null;
}

export interface NewScore {
  frame: ScoredFrame;
  name: string;
  value: number | null;
  label: string | null;
  comment: string;
  source: ScoreSource;
  author: string;
  evaluatorRunId?: string | null;
}

export async function insertScore(db: Db, score: NewScore): Promise<Score> {
  const [row] = await db
    .insert(scores)
    .values({
      frameId: score.frame.id,
      runId: score.frame.runId,
      realmId: score.frame.realmId,
      loopId: score.frame.loopId,
      promptVersion: score.frame.promptVersion,
      name: score.name,
      value: score.value,
      label: score.label,
      comment: score.comment,
      source: score.source,
      author: score.author,
      evaluatorRunId: score.evaluatorRunId ?? null,
    })
    .returning();
  return toScore(row!);
}

/** Scores of every frame of these runs, oldest first. */
export async function listRunScores(db: Db, { runIds, scope }: { runIds: string[]; scope: RealmScope }): Promise<Score[]> {
  if (runIds.length === 0) return [];
  const rows = await db
    .select()
    .from(scores)
    .where(and(inArray(scores.runId, runIds), realmCondition(scores.realmId, scope)))
    .orderBy(asc(scores.createdAt), asc(scores.id));
  return rows.map(toScore);
}
