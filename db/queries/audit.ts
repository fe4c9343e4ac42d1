import { randomUUID } from "node:crypto";
import { asc, gt, sql, type SQL } from "drizzle-orm";
import { canonicalJson, sha256Hex } from "../../lib/canonical-json";
import type { Db } from "../client";
import { auditEvents } from "../schema";

export const AUDIT_GENESIS_HASH = "0".repeat(64);

export interface AuditEventInput {
  action: string;
  outcome?: "ok" | "denied" | "failed";
  actor: { subject: string; source?: string; kind?: string; [key: string]: unknown };
  realmId?: string | null;
  targetType?: string | null;
  targetId?: string | null;
  data?: Record<string, unknown>;
  at?: Date;
}

export interface AuditEvent {
  seq: number;
  id: string;
  at: string;
  action: string;
  outcome: string;
  actor: Record<string, unknown>;
  realmId: string | null;
  targetType: string | null;
  targetId: string | null;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** The exact bytes an event's hash covers; the verifier in every compliance bundle repeats this. */
export function auditHashInput(event: Omit<AuditEvent, "hash" | "id">): string {
  return canonicalJson({
    seq: event.seq,
    at: event.at,
    action: event.action,
    outcome: event.outcome,
    actor: event.actor,
    realmId: event.realmId,
    targetType: event.targetType,
    targetId: event.targetId,
    data: event.data,
    prevHash: event.prevHash,
  });
}

export function computeAuditHash(event: Omit<AuditEvent, "hash" | "id">): string {
  return sha256Hex(auditHashInput(event));
}

/**
 * Appends one event to the hash chain, in one statement (`loopstacks_append_audit_event`): the
 * database takes the chain's lock, reads its head and stores the event with its hash. The hash
 * covers the event's canonical JSON, sent with placeholders for the position and the previous
 * hash; random ones, so no value in the event can stand in for them. Append-only: nothing in the
 * product updates or deletes events.
 */
export async function appendAuditEvent(db: Db, input: AuditEventInput): Promise<AuditEvent> {
  const append = prepareAuditAppend(input);
  const result = (await db.execute(sql`select event_id, event_seq, event_prev_hash, event_hash from ${auditAppendCall(append)}`)) as unknown as { rows: AuditAppendRow[] };
  return append.event(result.rows);
}

/** The call of `loopstacks_append_audit_event` that appends a prepared event, for a statement to make. */
export function auditAppendCall(append: AuditAppend): SQL {
  const [at, action, outcome, actor, realmId, targetType, targetId, data, hashInput, seqPlaceholder, prevPlaceholder] = append.params;
  return sql`loopstacks_append_audit_event(
      ${at}::timestamptz, ${action}, ${outcome}, ${actor}::jsonb, ${realmId}, ${targetType}, ${targetId}, ${data}::jsonb,
      ${hashInput}, ${seqPlaceholder}, ${prevPlaceholder})`;
}

/** Who an event names: the identity's subject, kind and source (its groups are not recorded). */
export function auditActorOf(identity: { subject: string; kind?: string; source?: string }): AuditEventInput["actor"] {
  return { subject: identity.subject, ...(identity.kind ? { kind: identity.kind } : {}), ...(identity.source ? { source: identity.source } : {}) };
}

/** What `loopstacks_append_audit_event` returns. */
export interface AuditAppendRow {
  event_id: string;
  event_seq: number;
  event_prev_hash: string;
  event_hash: string;
}

/** The append as plain SQL, for callers that run it on a connection of their own (`AUDIT_APPEND_SQL`). */
export const AUDIT_APPEND_SQL = `select event_id, event_seq, event_prev_hash, event_hash from loopstacks_append_audit_event(
  $1::timestamptz, $2, $3, $4::jsonb, $5, $6, $7, $8::jsonb, $9, $10, $11)`;

/** The parameters of an append, and how to read the event it stored from the rows it returns. */
export interface AuditAppend {
  params: (string | null)[];
  event(rows: AuditAppendRow[]): AuditEvent;
}

export function prepareAuditAppend(input: AuditEventInput): AuditAppend {
  const at = new Date(Math.floor((input.at ?? new Date()).getTime()));
  const seqPlaceholder = `seq-${randomUUID()}`;
  const prevPlaceholder = `prev-${randomUUID()}`;
  const fields = {
    at: at.toISOString(),
    action: input.action,
    outcome: input.outcome ?? "ok",
    actor: JSON.parse(JSON.stringify(input.actor)) as Record<string, unknown>,
    realmId: input.realmId ?? null,
    targetType: input.targetType ?? null,
    targetId: input.targetId ?? null,
    data: JSON.parse(JSON.stringify(input.data ?? {})) as Record<string, unknown>,
  };
  const hashInput = auditHashInput({ ...fields, seq: seqPlaceholder as unknown as number, prevHash: prevPlaceholder });
  return {
    params: [
      fields.at,
      fields.action,
      fields.outcome,
      JSON.stringify(fields.actor),
      fields.realmId,
      fields.targetType,
      fields.targetId,
      JSON.stringify(fields.data),
      hashInput,
      seqPlaceholder,
      prevPlaceholder,
    ],
    event(rows) {
      const row = rows[0];
      if (!row) throw new Error("The audit event was not appended");
      return { ...fields, seq: row.event_seq, id: row.event_id, prevHash: row.event_prev_hash, hash: row.event_hash };
    },
  };
}

export function toAuditEvent(row: typeof auditEvents.$inferSelect): AuditEvent {
  return {
    seq: row.seq,
    id: row.id,
    at: row.at.toISOString(),
    action: row.action,
    outcome: row.outcome,
    actor: row.actor,
    realmId: row.realmId,
    targetType: row.targetType,
    targetId: row.targetId,
    data: row.data,
    prevHash: row.prevHash,
    hash: row.hash,
  };
}

export interface AuditChainVerification {
  ok: boolean;
  count: number;
  head: string;
  /** The first event whose link or hash does not hold. */
  firstBroken?: { seq: number; reason: string };
}

/** Walks the whole chain in pages, recomputing every hash and link. */
export async function verifyAuditChain(db: Db, options: { pageSize?: number } = {}): Promise<AuditChainVerification> {
  const pageSize = options.pageSize ?? 1000;
  let prevHash = AUDIT_GENESIS_HASH;
  let expectedSeq = 1;
  let count = 0;
  for (;;) {
    const rows = await db
      .select()
      .from(auditEvents)
      .where(gt(auditEvents.seq, expectedSeq - 1))
      .orderBy(asc(auditEvents.seq))
      .limit(pageSize);
    for (const row of rows) {
      const event = toAuditEvent(row);
      if (event.seq !== expectedSeq) {
        return { ok: false, count, head: prevHash, firstBroken: { seq: expectedSeq, reason: `event ${expectedSeq} is missing (next is ${event.seq})` } };
      }
      if (event.prevHash !== prevHash) {
        return { ok: false, count, head: prevHash, firstBroken: { seq: event.seq, reason: `prev_hash does not match the hash of event ${event.seq - 1}` } };
      }
      if (computeAuditHash(event) !== event.hash) {
        return { ok: false, count, head: prevHash, firstBroken: { seq: event.seq, reason: `hash does not match the event's contents` } };
      }
      prevHash = event.hash;
      expectedSeq++;
      count++;
    }
    if (rows.length < pageSize) return { ok: true, count, head: prevHash };
  }
}
