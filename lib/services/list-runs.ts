import { z } from "zod";
import type { Db } from "../../db/client";
import { listRuns as selectRuns, type RunSummary as RunRow } from "../../db/queries/runs";
import { FRAME_STATUSES, type RunStatus } from "../runtime/types";
import { realmsFor, scopeFor, type Actor } from "./actor";
import { filterDateSchema } from "./filter-date";
import { checkInstant } from "../export/instant";

/** Filters come from a URL: an empty or unknown value means "no filter". */
export const listRunsSchema = z.object({
  loopId: z.string().trim().max(100).optional().catch(undefined),
  status: z.enum(FRAME_STATUSES).optional().catch(undefined),
  realm: z.string().trim().max(100).optional().catch(undefined),
  caller: z.string().trim().max(256).optional().catch(undefined),
  from: filterDateSchema,
  to: filterDateSchema,
  /** Opaque: the `nextCursor` of the previous page. */
  cursor: z.string().max(200).optional().catch(undefined),
  limit: z.coerce.number().int().min(1).max(200).default(50).catch(50),
});
export type ListRunsInput = z.input<typeof listRunsSchema>;

export interface RunSummary {
  id: string;
  loopId: string;
  loopRevision: number;
  realm: string;
  status: RunStatus;
  caller: string;
  callerName: string | null;
  createdAt: string;
  endedAt: string | null;
  durationMs: number | null;
  frameCount: number;
  inputTokens: number;
  outputTokens: number;
}

export interface RunPage {
  runs: RunSummary[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
  realms: string[];
}

/** Runs of the realms the caller can view, newest first, one keyset page at a time. */
export async function listRuns(deps: { db: Db }, actor: Actor, raw: ListRunsInput): Promise<RunPage> {
  const input = listRunsSchema.parse(raw);
  const before = input.cursor ? decodeCursor(input.cursor) : undefined;
  const rows = await selectRuns(deps.db, {
    scope: scopeFor(actor, "view"),
    ...(input.loopId ? { loopId: input.loopId } : {}),
    ...(input.status ? { status: input.status } : {}),
    ...(input.realm ? { realm: input.realm } : {}),
    ...(input.caller ? { caller: input.caller } : {}),
    ...(input.from ? { from: input.from } : {}),
    ...(input.to ? { to: input.to } : {}),
    ...(before ? { before } : {}),
    limit: input.limit + 1,
  });
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    runs: page.map(toRunSummary),
    nextCursor: rows.length > input.limit && last ? encodeCursor(last.createdAt, last.id) : null,
    realms: realmsFor(actor, "view"),
  };
}

export function toRunSummary(row: Omit<RunRow, "durationMs"> & { durationMs?: number | null }): RunSummary {
  const identity = row.identity as { displayName?: unknown };
  const durationMs = row.durationMs ?? (row.endedAt && row.startedAt ? row.endedAt.getTime() - row.startedAt.getTime() : null);
  return {
    id: row.id,
    loopId: row.loopId,
    loopRevision: row.loopRevision,
    realm: row.realmId,
    status: row.status as RunStatus,
    caller: row.caller,
    callerName: typeof identity.displayName === "string" ? identity.displayName : null,
    createdAt: row.createdAt.toISOString(),
    endedAt: row.endedAt?.toISOString() ?? null,
    durationMs,
    frameCount: row.frameCount,
    inputTokens: row.inputTokens,
    outputTokens: row.outputTokens,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([createdAt.toISOString(), id])).toString("base64url");
}

/** A cursor that does not decode starts from the newest run rather than failing the page. */
export function decodeCursor(cursor: string): { createdAt: Date; id: string } | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (!Array.isArray(value) || typeof value[0] !== "string" || typeof value[1] !== "string" || !UUID.test(value[1])) return undefined;
    // Only a time a run can have been created at: one the database could not read fails the page.
    const createdAt = checkInstant(new Date(value[0]));
    return createdAt.ok ? { createdAt: createdAt.date, id: value[1] } : undefined;
  } catch {
    return undefined;
  }
}
