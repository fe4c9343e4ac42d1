import type { Db } from "../../db/client";
import { clearThrottle, getThrottleEntries, recordThrottleFailure } from "../../db/queries/throttle";

/**
 * Failed-login throttling, per username and per client address, kept in the database so that
 * every console process sees the same counts. It is checked before the directory is asked:
 * a blocked attempt never reaches LDAP, so an attacker cannot lock a person out through the
 * directory's own lockout policy, only delay attempts under that name here.
 */
export interface ThrottleSettings {
  /** Failures under one username within the window before attempts are blocked. */
  maxFailuresPerUsername: number;
  /** Failures from one client address within the window (across usernames) before blocking. */
  maxFailuresPerAddress: number;
  /** Counting starts over this long after a window's first failure. */
  windowSeconds: number;
  /** The first block; each further failure doubles it. */
  baseBlockSeconds: number;
  maxBlockSeconds: number;
}

export const DEFAULT_THROTTLE_SETTINGS: ThrottleSettings = {
  maxFailuresPerUsername: 5,
  maxFailuresPerAddress: 20,
  windowSeconds: 15 * 60,
  baseBlockSeconds: 30,
  maxBlockSeconds: 15 * 60,
};

export interface ThrottleKeys {
  username: string;
  address: string | null;
}

// RFC 4518 §2.2 maps these to nothing: soft hyphens, the combining grapheme joiner, variation
// selectors, the object replacement character, zero width space, and every other control (Cc)
// or format (Cf) character except the white space ones mapped to a space below.
const MAPPED_TO_NOTHING = /[\u00ad\u1806\u034f\u180b-\u180d\ufe00-\ufe0f\ufffc\u200b]|(?![\t\n\v\f\r\u0085])[\p{Cc}\p{Cf}]/gu;
const MAPPED_TO_SPACE = /[\t\n\v\f\r\u0085\p{Zs}\p{Zl}\p{Zp}]+/gu;

/**
 * A login name as the directory compares it, so that every spelling it takes for one person
 * counts against one throttle key. OpenLDAP's caseIgnoreMatch (and its kin on other servers)
 * prepares strings as RFC 4518 says: characters mapped to nothing or to a space, NFKC, case
 * folded, leading and trailing spaces dropped and runs of spaces made one. Otherwise `ｂob`
 * (fullwidth) and `𝐛𝐨𝐛` (mathematical bold), which sign in as bob, would each get attempts of
 * their own, and the directory's lockout could be reached from outside.
 */
export function directoryName(username: string): string {
  const mapped = username.replace(MAPPED_TO_NOTHING, "").normalize("NFKC");
  // Upper then lower case folds what one lower-casing leaves apart (ß and SS, ς and σ, ﬀ);
  // folding can leave a string out of NFKC, so it is normalised again.
  const folded = mapped.toLowerCase().toUpperCase().toLowerCase().normalize("NFKC");
  return folded.replace(MAPPED_TO_SPACE, " ").trim();
}

/** Case, Unicode form and look-alike spellings do not make a different person: see `directoryName`. */
export function throttleKeys(username: string, clientAddress: string | null | undefined): ThrottleKeys {
  const address = clientAddress?.trim();
  return { username: `user:${directoryName(username)}`, address: address ? `addr:${address.toLowerCase()}` : null };
}

/** The block, in milliseconds, after the `failures`-th failure: none below the limit, then doubling. */
export function blockDuration(failures: number, limit: number, settings: ThrottleSettings): number | null {
  if (failures < limit) return null;
  const seconds = Math.min(settings.maxBlockSeconds, settings.baseBlockSeconds * 2 ** Math.min(failures - limit, 30));
  return seconds * 1000;
}

const keyList = (keys: ThrottleKeys) => (keys.address ? [keys.username, keys.address] : [keys.username]);

export type ThrottleCheck = { blocked: false } | { blocked: true; retryAfterSeconds: number; keys: string[] };

export async function checkLoginThrottle(db: Db, keys: ThrottleKeys, now: Date): Promise<ThrottleCheck> {
  const blocking = (await getThrottleEntries(db, keyList(keys))).filter((e) => e.blockedUntil && e.blockedUntil > now);
  if (blocking.length === 0) return { blocked: false };
  const until = Math.max(...blocking.map((e) => e.blockedUntil!.getTime()));
  return { blocked: true, retryAfterSeconds: Math.ceil((until - now.getTime()) / 1000), keys: blocking.map((e) => e.key) };
}

export async function recordLoginFailure(db: Db, keys: ThrottleKeys, now: Date, settings: ThrottleSettings = DEFAULT_THROTTLE_SETTINGS): Promise<void> {
  const windowStart = new Date(now.getTime() - settings.windowSeconds * 1000);
  await recordThrottleFailure(db, { key: keys.username, now, windowStart, blockMs: (n) => blockDuration(n, settings.maxFailuresPerUsername, settings) });
  if (keys.address) {
    await recordThrottleFailure(db, { key: keys.address, now, windowStart, blockMs: (n) => blockDuration(n, settings.maxFailuresPerAddress, settings) });
  }
}

/**
 * A successful login clears its username's count. The address count stays: otherwise one
 * valid account would let an attacker reset the counter between guesses at other names.
 */
export async function recordLoginSuccess(db: Db, keys: ThrottleKeys): Promise<void> {
  await clearThrottle(db, [keys.username]);
}
