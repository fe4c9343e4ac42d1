import { inArray, sql } from "drizzle-orm";
import type { Db } from "../client";
import { loginThrottle } from "../schema";

export interface ThrottleEntry {
  key: string;
  failures: number;
  windowStartedAt: Date;
  blockedUntil: Date | null;
}

export async function getThrottleEntries(db: Db, keys: readonly string[]): Promise<ThrottleEntry[]> {
  if (keys.length === 0) return [];
  return db.select().from(loginThrottle).where(inArray(loginThrottle.key, [...keys]));
}

/**
 * Counts one failure against `key` in a single statement, so concurrent attempts cannot
 * lose a count. A window that began before `windowStart` starts over at one failure.
 * `blockFor(failures)` gives the block to impose after this failure, in milliseconds.
 */
export async function recordThrottleFailure(
  db: Db,
  params: { key: string; now: Date; windowStart: Date; blockMs: (failures: number) => number | null },
): Promise<ThrottleEntry> {
  const { key, now, windowStart } = params;
  const [row] = await db
    .insert(loginThrottle)
    .values({ key, failures: 1, windowStartedAt: now })
    .onConflictDoUpdate({
      target: loginThrottle.key,
      set: {
        failures: sql`case when ${loginThrottle.windowStartedAt} < ${windowStart.toISOString()}::timestamptz then 1 else ${loginThrottle.failures} + 1 end`,
        windowStartedAt: sql`case when ${loginThrottle.windowStartedAt} < ${windowStart.toISOString()}::timestamptz then ${now.toISOString()}::timestamptz else ${loginThrottle.windowStartedAt} end`,
      },
    })
    .returning();
  const entry = row!;
  const blockMs = params.blockMs(entry.failures);
  if (blockMs === null) return entry;
  const blockedUntil = new Date(now.getTime() + blockMs);
  await db
    .update(loginThrottle)
    .set({ blockedUntil })
    .where(sql`${loginThrottle.key} = ${key} and (${loginThrottle.blockedUntil} is null or ${loginThrottle.blockedUntil} < ${blockedUntil.toISOString()}::timestamptz)`);
  return { ...entry, blockedUntil };
}

export async function clearThrottle(db: Db, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  await db.delete(loginThrottle).where(inArray(loginThrottle.key, [...keys]));
}
