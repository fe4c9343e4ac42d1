import { and, asc, desc, eq, ilike, inArray, isNull, or, sql } from "drizzle-orm";
import type { LoopDefinition } from "../../lib/runtime/definition";
import type { SaveRevisionParams, SaveRevisionResult } from "../../lib/runtime/store";
import type { LoopRevision, PromptVersion, RegisteredLoop } from "../../lib/runtime/types";
import { AppError } from "../../lib/errors";
import type { Db } from "../client";
import { oncePerDatabase, prepareNamed } from "../prepared-statement";
import { loopRevisions, loops, promptPromotions, promptRollouts, promptVersions, realms } from "../schema";
import { realmCondition, type RealmScope } from "./scope";

const loopColumns = {
  id: loops.id,
  realm: loops.realmId,
  type: loops.type,
  description: loops.description,
  revision: loops.currentRevision,
  activePromptVersion: loops.activePromptVersion,
  createdAt: loops.createdAt,
  updatedAt: loops.updatedAt,
  definition: loopRevisions.definition,
};

type LoopRow = {
  id: string;
  realm: string;
  type: string;
  description: string;
  revision: number;
  activePromptVersion: number | null;
  createdAt: Date;
  updatedAt: Date;
  definition: Record<string, unknown>;
};

function toRegisteredLoop(row: LoopRow): RegisteredLoop {
  return {
    ...row,
    type: row.type as RegisteredLoop["type"],
    definition: row.definition as LoopDefinition,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function currentRevisionJoin() {
  return and(eq(loopRevisions.loopId, loops.id), eq(loopRevisions.revision, loops.currentRevision));
}

export interface GetLoopParams {
  loopId: string;
  scope: RealmScope;
}

export async function getLoop(db: Db, { loopId, scope }: GetLoopParams): Promise<RegisteredLoop | null> {
  const [row] = await db
    .select(loopColumns)
    .from(loops)
    .innerJoin(loopRevisions, currentRevisionJoin())
    .where(and(eq(loops.id, loopId), realmCondition(loops.realmId, scope)))
    .limit(1);
  return row ? toRegisteredLoop(row) : null;
}

function prepareCurrentLoop(db: Db) {
  return prepareNamed(
    "current_loop",
    db.select(loopColumns).from(loops).innerJoin(loopRevisions, currentRevisionJoin()).where(eq(loops.id, sql.placeholder("loopId"))).limit(1),
  );
}
const currentLoopQuery = oncePerDatabase(prepareCurrentLoop);

/**
 * A loop's current revision, whatever its realm, for the runtime (which authorizes each frame
 * itself). It reads one for every run it starts, so the statement is prepared once per database
 * handle: building the query cost more CPU than running it.
 */
export async function getCurrentLoop(db: Db, loopId: string): Promise<RegisteredLoop | null> {
  const [row] = await currentLoopQuery(db).execute({ loopId });
  return row ? toRegisteredLoop(row) : null;
}

export interface ListLoopsParams {
  scope: RealmScope;
  realm?: string;
  type?: string;
  search?: string;
  limit?: number;
}

export async function listLoops(db: Db, params: ListLoopsParams): Promise<RegisteredLoop[]> {
  const conditions = [realmCondition(loops.realmId, params.scope)];
  if (params.realm) conditions.push(eq(loops.realmId, params.realm));
  if (params.type) conditions.push(eq(loops.type, params.type));
  if (params.search) {
    const pattern = `%${params.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    conditions.push(or(ilike(loops.id, pattern), ilike(loops.description, pattern))!);
  }
  const rows = await db
    .select(loopColumns)
    .from(loops)
    .innerJoin(loopRevisions, currentRevisionJoin())
    .where(and(...conditions))
    .orderBy(asc(loops.realmId), asc(loops.id))
    .limit(params.limit ?? 1000);
  return rows.map(toRegisteredLoop);
}

export async function existingLoopIds(db: Db, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.select({ id: loops.id }).from(loops).where(inArray(loops.id, ids));
  return new Set(rows.map((r) => r.id));
}

function toRevision(row: typeof loopRevisions.$inferSelect): LoopRevision {
  return {
    loopId: row.loopId,
    revision: row.revision,
    definition: row.definition as LoopDefinition,
    hash: row.hash,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
  };
}

export async function listLoopRevisions(db: Db, { loopId, scope }: GetLoopParams): Promise<LoopRevision[]> {
  const rows = await db
    .select({ revision: loopRevisions })
    .from(loopRevisions)
    .innerJoin(loops, eq(loops.id, loopRevisions.loopId))
    .where(and(eq(loopRevisions.loopId, loopId), realmCondition(loops.realmId, scope)))
    .orderBy(desc(loopRevisions.revision));
  return rows.map((r) => toRevision(r.revision));
}

export async function getLoopRevision(db: Db, loopId: string, revision: number): Promise<LoopRevision | null> {
  const [row] = await db
    .select()
    .from(loopRevisions)
    .where(and(eq(loopRevisions.loopId, loopId), eq(loopRevisions.revision, revision)));
  return row ? toRevision(row) : null;
}

/**
 * Appends a revision (and, for LLM loops whose prompt changed, a prompt version that becomes
 * active) in one transaction. The loop row is locked so concurrent registrations serialise.
 * A running prompt rollout ends (`stopped`) when the active version moves, as it does with a
 * promotion: it compared a candidate against a version that is no longer active.
 */
export async function saveLoopRevision(db: Db, params: SaveRevisionParams): Promise<SaveRevisionResult> {
  const { definition, hash, actor } = params;
  return db.transaction(async (tx) => {
    await tx.insert(realms).values({ id: definition.realm, name: definition.realm }).onConflictDoNothing();
    const [existing] = await tx.select().from(loops).where(eq(loops.id, definition.id)).for("update");
    if (existing && existing.realmId !== definition.realm) {
      throw new AppError("conflict", `Loop "${definition.id}" belongs to realm "${existing.realmId}"; a loop cannot move to another realm`, {
        issues: [{ path: "realm", message: `must stay "${existing.realmId}"` }],
      });
    }
    if (existing && existing.type !== definition.type) {
      throw new AppError("conflict", `Loop "${definition.id}" is of type "${existing.type}"; register a new loop id for a different type`, {
        issues: [{ path: "type", message: `must stay "${existing.type}"` }],
      });
    }
    if (existing) {
      const [current] = await tx
        .select({ hash: loopRevisions.hash })
        .from(loopRevisions)
        .where(and(eq(loopRevisions.loopId, existing.id), eq(loopRevisions.revision, existing.currentRevision)));
      if (current?.hash === hash) {
        const loop = await getLoop(tx as unknown as Db, { loopId: definition.id, scope: "all" });
        return { loop: loop!, changed: false, promptVersion: null, endedRollout: null };
      }
    }
    const now = new Date();
    const revision = (existing?.currentRevision ?? 0) + 1;
    if (existing) {
      await tx
        .update(loops)
        .set({ currentRevision: revision, description: definition.description, updatedAt: now })
        .where(eq(loops.id, definition.id));
    } else {
      await tx.insert(loops).values({
        id: definition.id,
        realmId: definition.realm,
        type: definition.type,
        description: definition.description,
        currentRevision: revision,
        createdBy: actor,
        createdAt: now,
        updatedAt: now,
      });
    }
    await tx.insert(loopRevisions).values({
      loopId: definition.id,
      revision,
      definition: definition as unknown as Record<string, unknown>,
      hash,
      createdBy: actor,
      createdAt: now,
    });
    let promptVersion: number | null = null;
    let endedRollout: SaveRevisionResult["endedRollout"] = null;
    if (params.prompt) {
      const [last] = await tx
        .select({ version: promptVersions.version })
        .from(promptVersions)
        .where(eq(promptVersions.loopId, definition.id))
        .orderBy(desc(promptVersions.version))
        .limit(1);
      promptVersion = (last?.version ?? 0) + 1;
      await tx.insert(promptVersions).values({
        loopId: definition.id,
        version: promptVersion,
        systemPrompt: params.prompt.systemPrompt,
        params: params.prompt.params,
        author: actor,
        message: params.prompt.message,
        createdAt: now,
      });
      await tx.insert(promptPromotions).values({
        loopId: definition.id,
        kind: "registration",
        fromVersion: existing?.activePromptVersion ?? null,
        toVersion: promptVersion,
        actor,
        reason: `Registered with revision ${revision}`,
        createdAt: now,
      });
      await tx.update(loops).set({ activePromptVersion: promptVersion }).where(eq(loops.id, definition.id));
      // The loop row is locked: no rollout starts or ends in between.
      const [ended] = await tx
        .update(promptRollouts)
        .set({ endedBy: actor, endedAt: now, outcome: "stopped" })
        .where(and(eq(promptRollouts.loopId, definition.id), isNull(promptRollouts.endedAt)))
        .returning({ id: promptRollouts.id, candidateVersion: promptRollouts.candidateVersion, percent: promptRollouts.percent });
      if (ended) endedRollout = { ...ended, outcome: "stopped" };
    }
    const loop = await getLoop(tx as unknown as Db, { loopId: definition.id, scope: "all" });
    return { loop: loop!, changed: true, promptVersion, endedRollout };
  });
}

export function toPromptVersion(row: typeof promptVersions.$inferSelect): PromptVersion {
  return {
    loopId: row.loopId,
    version: row.version,
    systemPrompt: row.systemPrompt,
    params: row.params as PromptVersion["params"],
    author: row.author,
    message: row.message,
    createdAt: row.createdAt.toISOString(),
  };
}

/** Read at execution time, never cached, so a promotion is live for the next frame in every process. */
export async function getActivePromptVersion(db: Db, loopId: string): Promise<PromptVersion | null> {
  const [row] = await db
    .select({ prompt: promptVersions })
    .from(loops)
    .innerJoin(promptVersions, and(eq(promptVersions.loopId, loops.id), eq(promptVersions.version, loops.activePromptVersion)))
    .where(eq(loops.id, loopId))
    .limit(1);
  return row ? toPromptVersion(row.prompt) : null;
}

export async function getPromptVersion(db: Db, loopId: string, version: number): Promise<PromptVersion | null> {
  const [row] = await db
    .select()
    .from(promptVersions)
    .where(and(eq(promptVersions.loopId, loopId), eq(promptVersions.version, version)));
  return row ? toPromptVersion(row) : null;
}

export async function countLoops(db: Db, scope: RealmScope): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(loops).where(realmCondition(loops.realmId, scope));
  return row?.n ?? 0;
}
