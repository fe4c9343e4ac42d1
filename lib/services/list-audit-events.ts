import { z } from "zod";
import type { Db } from "../../db/client";
import type { AuditEvent } from "../../db/queries/audit";
import { listAuditActions, listAuditEvents as selectAuditEvents } from "../../db/queries/audit-events";
import { realmsFor, type Actor } from "./actor";
import { filterDateSchema } from "./filter-date";

export const AUDIT_PAGE_SIZE = 50;

const blank = (value: unknown) => (typeof value === "string" && value.trim() === "" ? undefined : value);

/** Filters come from a URL: a malformed value means "no filter" rather than an error page. */
export const listAuditEventsSchema = z.object({
  action: z.preprocess(blank, z.string().trim().max(100).optional()).catch(undefined),
  actor: z.preprocess(blank, z.string().trim().max(256).optional()).catch(undefined),
  realm: z.preprocess(blank, z.string().trim().max(100).optional()).catch(undefined),
  from: filterDateSchema,
  to: filterDateSchema,
  before: z.preprocess(blank, z.coerce.number().int().positive().optional()).catch(undefined),
  limit: z.preprocess(blank, z.coerce.number().int().min(1).max(500).optional()).catch(undefined),
});
export type ListAuditEventsInput = z.input<typeof listAuditEventsSchema>;

export interface AuditEventPage {
  events: AuditEvent[];
  /** The `before` value of the next (older) page, or null on the last page. */
  nextBefore: number | null;
  /** The realms the caller may filter by. */
  realms: string[];
  actions: string[];
  /** False for a caller who is neither auditor nor admin anywhere: the page has nothing for them. */
  canView: boolean;
}

/**
 * The audit log for auditors and admins: events of the realms they hold one of those roles
 * in, plus the instance's own events (logins, directory changes), which belong to no realm.
 * Newest first, paginated by position in the chain.
 */
export async function listAuditEvents(deps: { db: Db }, actor: Actor, raw: ListAuditEventsInput = {}): Promise<AuditEventPage> {
  const input = listAuditEventsSchema.parse(raw);
  const realms = realmsFor(actor, "export");
  if (realms.length === 0) return { events: [], nextBefore: null, realms: [], actions: [], canView: false };
  const limit = input.limit ?? AUDIT_PAGE_SIZE;
  const rows = await selectAuditEvents(deps.db, {
    realms: input.realm ? realms.filter((r) => r === input.realm) : realms,
    includeInstanceEvents: !input.realm,
    ...(input.action ? { action: input.action } : {}),
    ...(input.actor ? { actorSubject: input.actor } : {}),
    ...(input.from ? { from: input.from } : {}),
    ...(input.to ? { to: input.to } : {}),
    ...(input.before ? { beforeSeq: input.before } : {}),
    limit: limit + 1,
  });
  const events = rows.slice(0, limit);
  return {
    events,
    nextBefore: rows.length > limit ? events.at(-1)!.seq : null,
    realms,
    actions: await listAuditActions(deps.db),
    canView: true,
  };
}
