import { eq, lt } from "drizzle-orm";
import type { Db } from "../client";
import { endedSessions } from "../schema";

/**
 * Records a session as signed out, until it would have expired anyway. Rows whose sessions
 * have expired are removed on the way: sign-outs are rare, so this keeps the table to the
 * sessions of the last maximum age without a job of its own.
 */
export async function recordEndedSession(db: Db, params: { id: string; expiresAt: Date; now: Date }): Promise<void> {
  await db.delete(endedSessions).where(lt(endedSessions.expiresAt, params.now));
  await db.insert(endedSessions).values({ id: params.id, endedAt: params.now, expiresAt: params.expiresAt }).onConflictDoNothing();
}

/** One primary-key lookup: it runs for every request a session makes. */
export async function isSessionEnded(db: Db, id: string): Promise<boolean> {
  const [row] = await db.select({ id: endedSessions.id }).from(endedSessions).where(eq(endedSessions.id, id)).limit(1);
  return row !== undefined;
}
