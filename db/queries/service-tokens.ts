import { and, desc, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../client";
import { serviceTokens } from "../schema";
import { realmCondition, type RealmScope } from "./scope";

export interface ServiceTokenRecord {
  id: string;
  name: string;
  realmId: string;
  role: string;
  prefix: string;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const columns = {
  id: serviceTokens.id,
  name: serviceTokens.name,
  realmId: serviceTokens.realmId,
  role: serviceTokens.role,
  prefix: serviceTokens.prefix,
  createdBy: serviceTokens.createdBy,
  createdAt: serviceTokens.createdAt,
  expiresAt: serviceTokens.expiresAt,
  lastUsedAt: serviceTokens.lastUsedAt,
  revokedAt: serviceTokens.revokedAt,
};

export async function insertServiceToken(
  db: Db,
  token: { name: string; realmId: string; role: string; tokenHash: string; prefix: string; createdBy: string; expiresAt: Date | null },
): Promise<ServiceTokenRecord> {
  const [row] = await db.insert(serviceTokens).values(token).returning(columns);
  return row!;
}

export async function listServiceTokens(db: Db, params: { scope: RealmScope }): Promise<ServiceTokenRecord[]> {
  return db.select(columns).from(serviceTokens).where(realmCondition(serviceTokens.realmId, params.scope)).orderBy(desc(serviceTokens.createdAt));
}

export async function getServiceToken(db: Db, params: { id: string; scope: RealmScope }): Promise<ServiceTokenRecord | null> {
  const [row] = await db
    .select(columns)
    .from(serviceTokens)
    .where(and(eq(serviceTokens.id, params.id), realmCondition(serviceTokens.realmId, params.scope)))
    .limit(1);
  return row ?? null;
}

/** The live token with this hash: not revoked, not expired. */
export async function findLiveServiceToken(db: Db, params: { tokenHash: string; now: Date }): Promise<ServiceTokenRecord | null> {
  const [row] = await db
    .select(columns)
    .from(serviceTokens)
    .where(
      and(
        eq(serviceTokens.tokenHash, params.tokenHash),
        isNull(serviceTokens.revokedAt),
        or(isNull(serviceTokens.expiresAt), sql`${serviceTokens.expiresAt} > ${params.now.toISOString()}::timestamptz`),
      ),
    )
    .limit(1);
  return row ?? null;
}

/** Records a use; at most one write per token per `granularityMs`, so busy services do not write on every call. */
export async function touchServiceToken(db: Db, params: { id: string; now: Date; granularityMs: number }): Promise<void> {
  const before = new Date(params.now.getTime() - params.granularityMs);
  await db
    .update(serviceTokens)
    .set({ lastUsedAt: params.now })
    .where(and(eq(serviceTokens.id, params.id), or(isNull(serviceTokens.lastUsedAt), lt(serviceTokens.lastUsedAt, before))));
}

export async function revokeServiceToken(db: Db, params: { id: string; now: Date }): Promise<boolean> {
  const rows = await db
    .update(serviceTokens)
    .set({ revokedAt: params.now })
    .where(and(eq(serviceTokens.id, params.id), isNull(serviceTokens.revokedAt)))
    .returning({ id: serviceTokens.id });
  return rows.length > 0;
}
