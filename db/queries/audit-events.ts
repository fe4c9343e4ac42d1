import { and, desc, eq, gte, inArray, isNull, like, lt, lte, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "../client";
import { auditEvents } from "../schema";
import { toAuditEvent, type AuditEvent } from "./audit";

export interface ListAuditEventsParams {
  /** Realms whose events may be returned. */
  realms: readonly string[];
  /** Also return events that belong to no realm (logins, directory changes). */
  includeInstanceEvents: boolean;
  /** An exact action, or a prefix ending in "." (`login.`). */
  action?: string;
  /** The actor's subject, exactly. */
  actorSubject?: string;
  realm?: string;
  from?: Date;
  to?: Date;
  /** Events before this position in the chain (the cursor of the next page). */
  beforeSeq?: number;
  limit: number;
}

/** Newest first, one page, filtered; realm scoping is part of every query. */
export async function listAuditEvents(db: Db, params: ListAuditEventsParams): Promise<AuditEvent[]> {
  const visible: SQL[] = [];
  if (params.realms.length > 0) visible.push(inArray(auditEvents.realmId, [...params.realms]));
  if (params.includeInstanceEvents) visible.push(isNull(auditEvents.realmId));
  if (visible.length === 0) return [];
  const conditions: (SQL | undefined)[] = [or(...visible)];
  if (params.action) {
    conditions.push(params.action.endsWith(".") ? like(auditEvents.action, `${params.action.replace(/[\\%_]/g, "\\$&")}%`) : eq(auditEvents.action, params.action));
  }
  if (params.actorSubject) conditions.push(sql`${auditEvents.actor}->>'subject' = ${params.actorSubject}`);
  if (params.realm) conditions.push(eq(auditEvents.realmId, params.realm));
  if (params.from) conditions.push(gte(auditEvents.at, params.from));
  if (params.to) conditions.push(lte(auditEvents.at, params.to));
  if (params.beforeSeq !== undefined) conditions.push(lt(auditEvents.seq, params.beforeSeq));
  const rows = await db
    .select()
    .from(auditEvents)
    .where(and(...conditions))
    .orderBy(desc(auditEvents.seq))
    .limit(params.limit);
  return rows.map(toAuditEvent);
}

/** The distinct actions recorded so far, for a filter menu. */
export async function listAuditActions(db: Db): Promise<string[]> {
  const rows = await db.selectDistinct({ action: auditEvents.action }).from(auditEvents).orderBy(auditEvents.action);
  return rows.map((r) => r.action);
}
