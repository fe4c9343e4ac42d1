import { and, asc, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { AppError } from "../../lib/errors";
import { selectPrompt, type PromptSelectionContext, type ResolvedPrompt } from "../../lib/runtime/prompt-selection";
import type { PromptVersion } from "../../lib/runtime/types";
import { keepUntilChanged } from "../change-feed";
import type { Db } from "../client";
import { frames, loopEvaluators, loops, promptPromotions, promptRollouts, promptVersions, runs, scores } from "../schema";
import { batchPerTick } from "./batch";
import { getPromptVersion, toPromptVersion } from "./loops";
import { realmCondition, type RealmScope } from "./scope";

/**
 * The prompt a frame runs, read from the database when the frame starts — never cached, so a
 * promotion committed by any process is used by the next frame everywhere. The active version
 * and a running rollout's candidate come back in one query.
 */
export async function resolvePromptForFrame(
  db: Db,
  loopId: string,
  context: PromptSelectionContext & { version?: number },
): Promise<ResolvedPrompt | null> {
  if (context.version !== undefined) {
    const forced = await getPromptVersion(db, loopId, context.version);
    if (!forced) throw new AppError("not_found", `Prompt version ${context.version} of loop "${loopId}" does not exist`);
    return { prompt: forced, choice: { reason: "replay" } };
  }
  const state = (await readPromptStates(db, [loopId])).get(loopId);
  return state ? selectPrompt(state, context) : null;
}

/**
 * `resolvePromptForFrame` for the runtime, which asks when every LLM frame starts: the reads
 * that arrive in the same turn of the event loop (the child frames of one model turn) share one
 * query, so a promotion is used by the very next frame. On a database with a change feed
 * (embedded PGlite, see `ChangeFeed`), each loop's prompt state is also kept until its tables
 * change, which this process hears of before the promotion's writer is told it is done.
 */
export function createPromptResolver(
  db: Db,
  readStates: typeof readPromptStates = readPromptStates,
): (loopId: string, context: PromptSelectionContext & { version?: number }) => Promise<ResolvedPrompt | null> {
  const read = keepUntilChanged(
    db,
    PROMPT_STATE_TABLES,
    batchPerTick(async (loopIds: string[]) => {
      const states = await readStates(db, [...new Set(loopIds)]);
      return loopIds.map((id) => states.get(id) ?? null);
    }),
  );
  return async (loopId, context) => {
    if (context.version !== undefined) return resolvePromptForFrame(db, loopId, context);
    const state = await read(loopId);
    return state ? selectPrompt(state, context) : null;
  };
}

export type PromptState = Parameters<typeof selectPrompt>[0];

/** The tables a loop's prompt state is read from. */
const PROMPT_STATE_TABLES = ["loops", "prompt_versions", "prompt_rollouts"] as const;

/** Each loop's active prompt version and, when a rollout is running, its candidate. */
export async function readPromptStates(db: Db, loopIds: string[]): Promise<Map<string, PromptState>> {
  const candidate = alias(promptVersions, "candidate");
  const rows = await db
    .selectDistinctOn([loops.id], {
      loopId: loops.id,
      active: promptVersions,
      rolloutId: promptRollouts.id,
      percent: promptRollouts.percent,
      stickyBy: promptRollouts.stickyBy,
      candidate,
    })
    .from(loops)
    .innerJoin(promptVersions, and(eq(promptVersions.loopId, loops.id), eq(promptVersions.version, loops.activePromptVersion)))
    .leftJoin(promptRollouts, and(eq(promptRollouts.loopId, loops.id), isNull(promptRollouts.endedAt)))
    .leftJoin(candidate, and(eq(candidate.loopId, loops.id), eq(candidate.version, promptRollouts.candidateVersion)))
    .where(inArray(loops.id, loopIds))
    .orderBy(loops.id, desc(promptRollouts.startedAt));
  return new Map(
    rows.map((row) => [
      row.loopId,
      {
        active: toPromptVersion(row.active),
        rollout:
          row.rolloutId !== null && row.candidate !== null && row.percent !== null && row.stickyBy !== null
            ? { id: row.rolloutId, percent: row.percent, stickyBy: row.stickyBy, candidate: toPromptVersion(row.candidate) }
            : null,
      },
    ]),
  );
}

export interface LoopPromptState {
  id: string;
  realm: string;
  type: string;
  activePromptVersion: number | null;
}

/**
 * Locks the loop row for the rest of the transaction: promotions, rollbacks, rollouts and new
 * versions of one loop serialise on it, across every process.
 */
export async function lockLoopForPrompts(tx: Db, loopId: string): Promise<LoopPromptState | null> {
  const [row] = await tx
    .select({ id: loops.id, realm: loops.realmId, type: loops.type, activePromptVersion: loops.activePromptVersion })
    .from(loops)
    .where(eq(loops.id, loopId))
    .for("update");
  return row ?? null;
}

export interface ListPromptVersionsParams {
  loopId: string;
  scope: RealmScope;
}

/** Every version of a loop, newest first. */
export async function listPromptVersions(db: Db, { loopId, scope }: ListPromptVersionsParams): Promise<PromptVersion[]> {
  const rows = await db
    .select({ prompt: promptVersions })
    .from(promptVersions)
    .innerJoin(loops, eq(loops.id, promptVersions.loopId))
    .where(and(eq(promptVersions.loopId, loopId), realmCondition(loops.realmId, scope)))
    .orderBy(desc(promptVersions.version));
  return rows.map((r) => toPromptVersion(r.prompt));
}

export async function getScopedPromptVersion(
  db: Db,
  { loopId, version, scope }: { loopId: string; version: number; scope: RealmScope },
): Promise<PromptVersion | null> {
  const [row] = await db
    .select({ prompt: promptVersions })
    .from(promptVersions)
    .innerJoin(loops, eq(loops.id, promptVersions.loopId))
    .where(and(eq(promptVersions.loopId, loopId), eq(promptVersions.version, version), realmCondition(loops.realmId, scope)));
  return row ? toPromptVersion(row.prompt) : null;
}

export interface NewPromptVersion {
  loopId: string;
  systemPrompt: string;
  params: PromptVersion["params"];
  author: string;
  message: string;
}

/** Appends the next version number; call inside a transaction holding `lockLoopForPrompts`. */
export async function insertPromptVersion(tx: Db, version: NewPromptVersion): Promise<PromptVersion> {
  const [last] = await tx
    .select({ version: promptVersions.version })
    .from(promptVersions)
    .where(eq(promptVersions.loopId, version.loopId))
    .orderBy(desc(promptVersions.version))
    .limit(1);
  const [row] = await tx
    .insert(promptVersions)
    .values({ ...version, version: (last?.version ?? 0) + 1 })
    .returning();
  return toPromptVersion(row!);
}

export type PromotionKind = "registration" | "promotion" | "rollback" | "rollout";

export interface PromptPromotion {
  id: string;
  loopId: string;
  kind: PromotionKind;
  fromVersion: number | null;
  toVersion: number;
  actor: string;
  reason: string;
  createdAt: string;
}

/** Moves the active label and records the move; call inside a transaction holding the loop lock. */
export async function moveActivePromptVersion(
  tx: Db,
  move: { loopId: string; kind: PromotionKind; fromVersion: number | null; toVersion: number; actor: string; reason: string; at: Date },
): Promise<PromptPromotion> {
  await tx.update(loops).set({ activePromptVersion: move.toVersion }).where(eq(loops.id, move.loopId));
  const [row] = await tx
    .insert(promptPromotions)
    .values({
      loopId: move.loopId,
      kind: move.kind,
      fromVersion: move.fromVersion,
      toVersion: move.toVersion,
      actor: move.actor,
      reason: move.reason,
      createdAt: move.at,
    })
    .returning();
  return toPromotion(row!);
}

function toPromotion(row: typeof promptPromotions.$inferSelect): PromptPromotion {
  return {
    id: row.id,
    loopId: row.loopId,
    kind: row.kind as PromotionKind,
    fromVersion: row.fromVersion,
    toVersion: row.toVersion,
    actor: row.actor,
    reason: row.reason,
    createdAt: row.createdAt.toISOString(),
  };
}

/** Every move of the active label, newest first. */
export async function listPromptPromotions(
  db: Db,
  { loopId, scope, limit = 200 }: { loopId: string; scope: RealmScope; limit?: number },
): Promise<PromptPromotion[]> {
  const rows = await db
    .select({ promotion: promptPromotions })
    .from(promptPromotions)
    .innerJoin(loops, eq(loops.id, promptPromotions.loopId))
    .where(and(eq(promptPromotions.loopId, loopId), realmCondition(loops.realmId, scope)))
    .orderBy(desc(promptPromotions.createdAt), desc(promptPromotions.id))
    .limit(limit);
  return rows.map((r) => toPromotion(r.promotion));
}

export interface PromptRollout {
  id: string;
  loopId: string;
  candidateVersion: number;
  percent: number;
  stickyBy: string;
  startedBy: string;
  startedAt: string;
  endedBy: string | null;
  endedAt: string | null;
  outcome: "stopped" | "completed" | null;
}

function toRollout(row: typeof promptRollouts.$inferSelect): PromptRollout {
  return {
    id: row.id,
    loopId: row.loopId,
    candidateVersion: row.candidateVersion,
    percent: row.percent,
    stickyBy: row.stickyBy,
    startedBy: row.startedBy,
    startedAt: row.startedAt.toISOString(),
    endedBy: row.endedBy,
    endedAt: row.endedAt?.toISOString() ?? null,
    outcome: row.outcome as PromptRollout["outcome"],
  };
}

/** Rollouts of a loop, newest first; the running one (if any) has no `endedAt`. */
export async function listPromptRollouts(
  db: Db,
  { loopId, scope, limit = 50 }: { loopId: string; scope: RealmScope; limit?: number },
): Promise<PromptRollout[]> {
  const rows = await db
    .select({ rollout: promptRollouts })
    .from(promptRollouts)
    .innerJoin(loops, eq(loops.id, promptRollouts.loopId))
    .where(and(eq(promptRollouts.loopId, loopId), realmCondition(loops.realmId, scope)))
    .orderBy(desc(promptRollouts.startedAt))
    .limit(limit);
  return rows.map((r) => toRollout(r.rollout));
}

export async function getRunningRollout(db: Db, loopId: string): Promise<PromptRollout | null> {
  const [row] = await db
    .select()
    .from(promptRollouts)
    .where(and(eq(promptRollouts.loopId, loopId), isNull(promptRollouts.endedAt)))
    .orderBy(desc(promptRollouts.startedAt))
    .limit(1);
  return row ? toRollout(row) : null;
}

export async function insertRollout(
  tx: Db,
  rollout: { loopId: string; candidateVersion: number; percent: number; stickyBy: string; startedBy: string; at: Date },
): Promise<PromptRollout> {
  const [row] = await tx
    .insert(promptRollouts)
    .values({
      loopId: rollout.loopId,
      candidateVersion: rollout.candidateVersion,
      percent: rollout.percent,
      stickyBy: rollout.stickyBy,
      startedBy: rollout.startedBy,
      startedAt: rollout.at,
    })
    .returning();
  return toRollout(row!);
}

export async function endRollout(tx: Db, end: { id: string; endedBy: string; outcome: "stopped" | "completed"; at: Date }): Promise<PromptRollout> {
  const [row] = await tx
    .update(promptRollouts)
    .set({ endedBy: end.endedBy, endedAt: end.at, outcome: end.outcome })
    .where(and(eq(promptRollouts.id, end.id), isNull(promptRollouts.endedAt)))
    .returning();
  if (!row) throw new AppError("conflict", "The rollout has already ended");
  return toRollout(row);
}

export interface PromptVersionFigures {
  version: number;
  runs: number;
  frames: number;
  succeeded: number;
  failed: number;
  /** failed ÷ (succeeded + failed); null before any frame has ended. */
  errorRate: number | null;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  inputTokens: number;
  outputTokens: number;
  firstUsedAt: string | null;
  lastUsedAt: string | null;
  scoreCount: number;
  meanScore: number | null;
}

/**
 * Figures for each prompt version of a loop, from the frames it produced and their scores:
 * two aggregate queries over the `(loop_id, prompt_version)` indexes.
 */
export async function getPromptVersionFigures(
  db: Db,
  { loopId, scope, versions }: { loopId: string; scope: RealmScope; versions?: number[] },
): Promise<Map<number, PromptVersionFigures>> {
  const frameConditions = [eq(frames.loopId, loopId), sql`${frames.promptVersion} is not null`, realmCondition(frames.realmId, scope)];
  const scoreConditions = [eq(scores.loopId, loopId), sql`${scores.promptVersion} is not null`, realmCondition(scores.realmId, scope)];
  if (versions) {
    if (versions.length === 0) return new Map();
    frameConditions.push(inArray(frames.promptVersion, versions));
    scoreConditions.push(inArray(scores.promptVersion, versions));
  }
  const [frameRows, scoreRows] = await Promise.all([
    db
      .select({
        version: sql<number>`${frames.promptVersion}`,
        runs: sql<number>`count(distinct ${frames.runId})::int`,
        frames: sql<number>`count(*)::int`,
        succeeded: sql<number>`(count(*) filter (where ${frames.status} = 'succeeded'))::int`,
        failed: sql<number>`(count(*) filter (where ${frames.status} = 'failed'))::int`,
        p50: sql<number | null>`percentile_cont(0.5) within group (order by ${frames.durationMs})`,
        p95: sql<number | null>`percentile_cont(0.95) within group (order by ${frames.durationMs})`,
        inputTokens: sql<number>`coalesce(sum(${frames.inputTokens}), 0)::float8`,
        outputTokens: sql<number>`coalesce(sum(${frames.outputTokens}), 0)::float8`,
        firstUsedAt: sql<Date>`min(${frames.createdAt})`.mapWith(frames.createdAt),
        lastUsedAt: sql<Date>`max(${frames.createdAt})`.mapWith(frames.createdAt),
      })
      .from(frames)
      .where(and(...frameConditions))
      .groupBy(frames.promptVersion),
    db
      .select({
        version: sql<number>`${scores.promptVersion}`,
        count: sql<number>`count(${scores.value})::int`,
        mean: sql<number | null>`avg(${scores.value})::float8`,
      })
      .from(scores)
      .where(and(...scoreConditions))
      .groupBy(scores.promptVersion),
  ]);
  const figures = new Map<number, PromptVersionFigures>();
  for (const row of frameRows) {
    const ended = row.succeeded + row.failed;
    figures.set(row.version, {
      version: row.version,
      runs: row.runs,
      frames: row.frames,
      succeeded: row.succeeded,
      failed: row.failed,
      errorRate: ended === 0 ? null : row.failed / ended,
      latencyP50Ms: row.p50 === null ? null : Number(row.p50),
      latencyP95Ms: row.p95 === null ? null : Number(row.p95),
      inputTokens: Number(row.inputTokens),
      outputTokens: Number(row.outputTokens),
      firstUsedAt: row.firstUsedAt?.toISOString() ?? null,
      lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
      scoreCount: 0,
      meanScore: null,
    });
  }
  for (const row of scoreRows) {
    const entry = figures.get(row.version) ?? { ...emptyFigures(row.version) };
    entry.scoreCount = row.count;
    entry.meanScore = row.mean === null ? null : Number(row.mean);
    figures.set(row.version, entry);
  }
  return figures;
}

export function emptyFigures(version: number): PromptVersionFigures {
  return {
    version,
    runs: 0,
    frames: 0,
    succeeded: 0,
    failed: 0,
    errorRate: null,
    latencyP50Ms: null,
    latencyP95Ms: null,
    inputTokens: 0,
    outputTokens: 0,
    firstUsedAt: null,
    lastUsedAt: null,
    scoreCount: 0,
    meanScore: null,
  };
}

export interface ReplaySourceRun {
  runId: string;
  status: string;
  createdAt: string;
  caller: string;
  input: unknown;
  output: unknown;
  rootFrameId: string;
  promptVersion: number | null;
}

/** Recent runs whose root frame is this loop, optionally only those that ran `promptVersion`. */
export async function listRecentLoopRuns(
  db: Db,
  { loopId, scope, promptVersion, limit = 20 }: { loopId: string; scope: RealmScope; promptVersion?: number; limit?: number },
): Promise<ReplaySourceRun[]> {
  const conditions = [eq(runs.loopId, loopId), realmCondition(runs.realmId, scope), isNull(frames.parentFrameId)];
  if (promptVersion !== undefined) conditions.push(eq(frames.promptVersion, promptVersion));
  const rows = await db
    .select({
      runId: runs.id,
      status: runs.status,
      createdAt: runs.createdAt,
      caller: runs.caller,
      input: runs.input,
      output: runs.output,
      rootFrameId: frames.id,
      promptVersion: frames.promptVersion,
    })
    .from(runs)
    .innerJoin(frames, eq(frames.runId, runs.id))
    .where(and(...conditions))
    .orderBy(desc(runs.createdAt), desc(runs.id))
    .limit(limit);
  return rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() }));
}

export interface RunOutcome {
  runId: string;
  loopId: string;
  status: string;
  input: unknown;
  output: unknown;
  error: Record<string, unknown> | null;
  createdAt: string;
  endedAt: string | null;
  rootFrameId: string | null;
  promptVersion: number | null;
  promptChoice: Record<string, unknown> | null;
  durationMs: number | null;
  inputTokens: number;
  outputTokens: number;
}

/** The root frames of these runs, for a side-by-side comparison; runs outside the scope are left out. */
export async function listRunOutcomes(db: Db, { runIds, scope }: { runIds: string[]; scope: RealmScope }): Promise<RunOutcome[]> {
  if (runIds.length === 0) return [];
  const rows = await db
    .select({
      runId: runs.id,
      loopId: runs.loopId,
      status: runs.status,
      input: runs.input,
      output: runs.output,
      error: runs.error,
      createdAt: runs.createdAt,
      endedAt: runs.endedAt,
      rootFrameId: frames.id,
      promptVersion: frames.promptVersion,
      promptChoice: frames.promptChoice,
      durationMs: frames.durationMs,
      inputTokens: runs.inputTokens,
      outputTokens: runs.outputTokens,
    })
    .from(runs)
    .leftJoin(frames, and(eq(frames.runId, runs.id), isNull(frames.parentFrameId)))
    .where(and(inArray(runs.id, runIds), realmCondition(runs.realmId, scope)))
    .orderBy(asc(runs.createdAt));
  return rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString(), endedAt: r.endedAt?.toISOString() ?? null }));
}

export interface LoopEvaluator {
  id: string;
  loopId: string;
  evaluatorLoopId: string;
  sampleRate: number;
  scoreName: string;
  createdBy: string;
  createdAt: string;
}

function toEvaluator(row: typeof loopEvaluators.$inferSelect): LoopEvaluator {
  return {
    id: row.id,
    loopId: row.loopId,
    evaluatorLoopId: row.evaluatorLoopId,
    sampleRate: row.sampleRate,
    scoreName: row.scoreName,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
  };
}

/** The evaluators of a loop; `scope` "all" is for the runtime, which authorizes each evaluator run itself. */
export async function listLoopEvaluators(db: Db, { loopId, scope }: { loopId: string; scope: RealmScope }): Promise<LoopEvaluator[]> {
  const rows = await db
    .select({ evaluator: loopEvaluators })
    .from(loopEvaluators)
    .innerJoin(loops, eq(loops.id, loopEvaluators.loopId))
    .where(and(eq(loopEvaluators.loopId, loopId), realmCondition(loops.realmId, scope)))
    .orderBy(asc(loopEvaluators.evaluatorLoopId));
  return rows.map((r) => toEvaluator(r.evaluator));
}

export async function upsertLoopEvaluator(
  db: Db,
  evaluator: { loopId: string; evaluatorLoopId: string; sampleRate: number; scoreName: string; createdBy: string },
): Promise<LoopEvaluator> {
  const [row] = await db
    .insert(loopEvaluators)
    .values(evaluator)
    .onConflictDoUpdate({
      target: [loopEvaluators.loopId, loopEvaluators.evaluatorLoopId],
      set: { sampleRate: evaluator.sampleRate, scoreName: evaluator.scoreName, createdBy: evaluator.createdBy, createdAt: new Date() },
    })
    .returning();
  return toEvaluator(row!);
}

export async function deleteLoopEvaluator(db: Db, { loopId, evaluatorLoopId }: { loopId: string; evaluatorLoopId: string }): Promise<boolean> {
  const rows = await db
    .delete(loopEvaluators)
    .where(and(eq(loopEvaluators.loopId, loopId), eq(loopEvaluators.evaluatorLoopId, evaluatorLoopId)))
    .returning({ id: loopEvaluators.id });
  return rows.length > 0;
}
