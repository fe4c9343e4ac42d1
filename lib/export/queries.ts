import { and, asc, eq, getTableColumns, gt, gte, inArray, lt, lte, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "../../db/client";
import { realmCondition, type RealmScope } from "../../db/queries/scope";
import { auditEvents, frames, loops, promptPromotions, promptVersions, realms, runs, toolCalls } from "../../db/schema";
import type { PayloadMode } from "./manifest";

/**
 * The reads an export needs, each paged by a keyset so that no query returns an unbounded
 * number of rows. They run inside one read-only, repeatable-read transaction: the bundle is a
 * consistent snapshot even while runs keep writing.
 */

export type RunRow = typeof runs.$inferSelect;

export interface ToolCallRow {
  id: string;
  turn: number;
  position: number;
  name: string;
  kind: string;
  input: unknown;
  output: unknown;
  isError: boolean;
  childFrameId: string | null;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
}

const { leaseOwner: _leaseOwner, leaseExpiresAt: _leaseExpiresAt, ...frameColumns } = getTableColumns(frames);
export type FrameRow = Omit<typeof frames.$inferSelect, "leaseOwner" | "leaseExpiresAt"> & { toolCalls: ToolCallRow[] };

/** Events about a run can only follow its creation; the slack absorbs clock skew between workers. */
const CLOCK_SKEW_MS = 5 * 60_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export async function getExportRun(db: Db, runId: string, scope: RealmScope): Promise<RunRow | null> {
  if (!isUuid(runId)) return null;
  const [row] = await db
    .select()
    .from(runs)
    .where(and(eq(runs.id, runId), realmCondition(runs.realmId, scope)))
    .limit(1);
  return row ?? null;
}

export async function realmExists(db: Db, realmId: string, scope: RealmScope): Promise<boolean> {
  const [row] = await db
    .select({ id: realms.id })
    .from(realms)
    .where(and(eq(realms.id, realmId), realmCondition(realms.id, scope)))
    .limit(1);
  if (row) return true;
  // Runs do not reference the realms table, so a realm may exist only through its runs.
  const [run] = await db
    .select({ id: runs.id })
    .from(runs)
    .where(and(eq(runs.realmId, realmId), realmCondition(runs.realmId, scope)))
    .limit(1);
  return run !== undefined;
}

/** Runs of a realm created in `[from, to)`, oldest first. */
export async function* pageRealmRuns(db: Db, params: { realmId: string; from: Date; to: Date; pageSize: number }): AsyncGenerator<RunRow[]> {
  let after: { createdAt: Date; id: string } | null = null;
  for (;;) {
    const conditions = [eq(runs.realmId, params.realmId), gte(runs.createdAt, params.from), lt(runs.createdAt, params.to)];
    if (after) conditions.push(sql`(${runs.createdAt}, ${runs.id}) > (${after.createdAt.toISOString()}::timestamptz, ${after.id}::uuid)`);
    const page: RunRow[] = await db
      .select()
      .from(runs)
      .where(and(...conditions))
      .orderBy(asc(runs.createdAt), asc(runs.id))
      .limit(params.pageSize);
    if (page.length > 0) yield page;
    if (page.length < params.pageSize) return;
    const last = page.at(-1)!;
    after = { createdAt: last.createdAt, id: last.id };
  }
}

/** json_agg renders timestamps in the session's format; normalise them to ISO-8601 UTC. */
function iso(value: string | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}

/** A run's frames in creation order, each with its tool calls, a page at a time. */
export async function* pageRunFrames(db: Db, params: { runId: string; pageSize: number }): AsyncGenerator<FrameRow[]> {
  let afterSeq = -1;
  for (;;) {
    const rows = await db
      .select({
        ...frameColumns,
        toolCalls: sql<Record<string, unknown>[]>`coalesce((
          select json_agg(json_build_object(
            'id', tc.id, 'turn', tc.turn, 'position', tc.position, 'name', tc.name, 'kind', tc.kind,
            'input', tc.input, 'output', tc.output, 'is_error', tc.is_error, 'child_frame_id', tc.child_frame_id,
            'started_at', tc.started_at, 'ended_at', tc.ended_at, 'duration_ms', tc.duration_ms
          ) order by tc.turn, tc.position, tc.id)
          from ${toolCalls} tc where tc.frame_id = "frames"."id"
        ), '[]'::json)`,
      })
      .from(frames)
      .where(and(eq(frames.runId, params.runId), gt(frames.seq, afterSeq)))
      .orderBy(asc(frames.seq))
      .limit(params.pageSize);
    const page: FrameRow[] = rows.map((row) => ({
      ...row,
      toolCalls: row.toolCalls.map((c) => ({
        id: c.id as string,
        turn: c.turn as number,
        position: c.position as number,
        name: c.name as string,
        kind: c.kind as string,
        input: c.input,
        output: c.output,
        isError: c.is_error as boolean,
        childFrameId: (c.child_frame_id as string | null) ?? null,
        startedAt: iso(c.started_at as string)!,
        endedAt: iso(c.ended_at as string | null),
        durationMs: (c.duration_ms as number | null) ?? null,
      })),
    }));
    if (page.length > 0) yield page;
    if (page.length < params.pageSize) return;
    afterSeq = page.at(-1)!.seq;
  }
}

/** The realms each run's frames ran in (a child may run in another realm than its run). */
export async function runFrameRealms(db: Db, runIds: readonly string[]): Promise<Map<string, string[]>> {
  const realmsByRun = new Map<string, string[]>(runIds.map((id) => [id, []]));
  if (runIds.length === 0) return realmsByRun;
  const rows = await db
    .selectDistinct({ runId: frames.runId, realmId: frames.realmId })
    .from(frames)
    .where(inArray(frames.runId, [...runIds]));
  for (const row of rows) realmsByRun.get(row.runId)?.push(row.realmId);
  return realmsByRun;
}

/** `realms.settings.export.payloads`; anything but `"hashed"` (including no setting) is raw. */
export async function getPayloadModes(db: Db, realmIds: readonly string[]): Promise<Map<string, PayloadMode>> {
  const modes = new Map<string, PayloadMode>(realmIds.map((id) => [id, "raw"]));
  if (realmIds.length === 0) return modes;
  const rows = await db.select({ id: realms.id, settings: realms.settings }).from(realms).where(inArray(realms.id, [...realmIds]));
  for (const row of rows) {
    const exportSettings = row.settings?.export as { payloads?: unknown } | undefined;
    if (exportSettings?.payloads === "hashed") modes.set(row.id, "hashed");
  }
  return modes;
}

export interface PromptRow {
  loopId: string;
  realmId: string | null;
  version: number;
  systemPrompt: string;
  params: Record<string, unknown>;
  author: string;
  message: string;
  createdAt: Date;
}

export async function getPromptVersions(db: Db, keys: readonly { loopId: string; version: number }[]): Promise<PromptRow[]> {
  const out: PromptRow[] = [];
  for (let i = 0; i < keys.length; i += 200) {
    const chunk = keys.slice(i, i + 200);
    const rows = await db
      .select({
        loopId: promptVersions.loopId,
        realmId: loops.realmId,
        version: promptVersions.version,
        systemPrompt: promptVersions.systemPrompt,
        params: promptVersions.params,
        author: promptVersions.author,
        message: promptVersions.message,
        createdAt: promptVersions.createdAt,
      })
      .from(promptVersions)
      .leftJoin(loops, eq(loops.id, promptVersions.loopId))
      .where(or(...chunk.map((k) => and(eq(promptVersions.loopId, k.loopId), eq(promptVersions.version, k.version)))));
    out.push(...rows);
  }
  return out.sort((a, b) => (a.loopId < b.loopId ? -1 : a.loopId > b.loopId ? 1 : a.version - b.version));
}

export type PromotionRow = typeof promptPromotions.$inferSelect;

export async function getPromotions(db: Db, loopIds: readonly string[]): Promise<PromotionRow[]> {
  if (loopIds.length === 0) return [];
  return db
    .select()
    .from(promptPromotions)
    .where(inArray(promptPromotions.loopId, [...loopIds]))
    .orderBy(asc(promptPromotions.loopId), asc(promptPromotions.createdAt), asc(promptPromotions.id));
}

/**
 * Which audit events belong to an export: events about the exported runs (their target, or the
 * run named in their data, as denials do), and for a realm export every event of that realm in
 * the time range.
 */
export function auditScopeCondition(scope: { kind: "run"; runId: string } | { kind: "realm"; realmId: string; from: Date; to: Date }): SQL {
  if (scope.kind === "run") {
    return sql`(${auditEvents.targetId} = ${scope.runId} or ${auditEvents.data}->>'runId' = ${scope.runId})`;
  }
  const from = scope.from.toISOString();
  const to = scope.to.toISOString();
  const runIds = sql`(select ${runs.id}::text from ${runs} where ${runs.realmId} = ${scope.realmId} and ${runs.createdAt} >= ${from}::timestamptz and ${runs.createdAt} < ${to}::timestamptz)`;
  return sql`((${auditEvents.realmId} = ${scope.realmId} and ${auditEvents.at} >= ${from}::timestamptz and ${auditEvents.at} < ${to}::timestamptz)
    or ${auditEvents.targetId} in ${runIds} or ${auditEvents.data}->>'runId' in ${runIds})`;
}

/** First and last seq of the in-scope events, or null when none exist. */
export async function getAuditSegmentBounds(db: Db, condition: SQL, notBefore: Date): Promise<{ firstSeq: number; lastSeq: number } | null> {
  const [row] = await db
    .select({ first: sql<number | null>`min(${auditEvents.seq})`, last: sql<number | null>`max(${auditEvents.seq})` })
    .from(auditEvents)
    .where(and(gte(auditEvents.at, new Date(notBefore.getTime() - CLOCK_SKEW_MS)), condition));
  if (!row || row.first === null || row.last === null) return null;
  return { firstSeq: Number(row.first), lastSeq: Number(row.last) };
}

export type AuditRow = typeof auditEvents.$inferSelect & { inScope: boolean };

/** Every event from `firstSeq` to `lastSeq`, flagged in or out of scope, a page at a time. */
export async function* pageAuditSegment(
  db: Db,
  params: { firstSeq: number; lastSeq: number; condition: SQL; pageSize: number },
): AsyncGenerator<AuditRow[]> {
  let from = params.firstSeq;
  while (from <= params.lastSeq) {
    const to = Math.min(params.lastSeq, from + params.pageSize - 1);
    const rows = await db
      .select({ ...getTableColumns(auditEvents), inScope: sql<boolean>`coalesce(${params.condition}, false)` })
      .from(auditEvents)
      .where(and(gte(auditEvents.seq, from), lte(auditEvents.seq, to)))
      .orderBy(asc(auditEvents.seq));
    yield rows;
    from = to + 1;
  }
}
