import type { Db } from "./client";

/** The channel migration 0006 announces changes on, with the changed table's name as the payload. */
export const CHANGES_CHANNEL = "loopstacks_changes";

/** The tables migration 0006 announces changes to, each by a trigger named `<table>_changed`. */
export const ANNOUNCED_TABLES = ["realm_mappings", "loops", "loop_revisions", "prompt_versions", "prompt_rollouts"] as const;
export type AnnouncedTable = (typeof ANNOUNCED_TABLES)[number];

/** The statement that says whether every announcing trigger is in place (the database is migrated). */
export const ANNOUNCING_TRIGGERS_SQL = `select count(*)::int as n from pg_trigger where not tgisinternal and tgname = any($1::text[])`;
export const ANNOUNCING_TRIGGERS = ANNOUNCED_TABLES.map((table) => `${table}_changed`);

/**
 * Changes to tables whose rows a process may keep in memory, as the database announces them.
 * Only a database that tells this process of every change before the change's own writer hears
 * that it is done has one: embedded PGlite, where this process is the only one and the
 * database's thread posts each notification ahead of the reply to the statement that caused it.
 * So a reader that drops what it keeps on each announcement never answers from before a change
 * that anyone in this process has seen made. (PGlite reads no notification that follows an error
 * in one multi-statement `exec`; nothing here changes these tables that way.)
 */
export interface ChangeFeed {
  /** False once the feed stopped (the database closed, or no longer announces every change). */
  readonly active: boolean;
  /** Calls `onChange` each time `table` changes. */
  subscribe(table: AnnouncedTable, onChange: () => void): void;
}

interface Feed extends ChangeFeed {
  active: boolean;
}

const feeds = new WeakMap<Db, Feed>();

export function changeFeedOf(db: Db): ChangeFeed | undefined {
  return feeds.get(db);
}

/**
 * Listens with `listen` and attaches the feed to `db`, once the database announces changes to
 * every table in `ANNOUNCED_TABLES` (`isAnnouncing`); a database not yet migrated has no feed, and
 * a reader made before it has one keeps nothing. Called again (after each migration), it stops the
 * feed if the database no longer announces them all.
 */
export async function attachChangeFeed(
  db: Db,
  options: { isAnnouncing(): Promise<boolean>; listen(onPayload: (table: string) => void): Promise<unknown> },
): Promise<void> {
  const existing = feeds.get(db);
  const announcing = await options.isAnnouncing();
  if (existing) {
    if (!announcing) detachChangeFeed(db);
    return;
  }
  if (!announcing) return;
  const subscribers = new Map<string, (() => void)[]>();
  await options.listen((table) => {
    for (const onChange of subscribers.get(table) ?? []) onChange();
  });
  feeds.set(db, {
    active: true,
    subscribe(table, onChange) {
      subscribers.set(table, [...(subscribers.get(table) ?? []), onChange]);
    },
  });
}

export function detachChangeFeed(db: Db): void {
  const feed = feeds.get(db);
  if (feed) feed.active = false;
  feeds.delete(db);
}

/** Distinct keys kept at most by one `keepUntilChanged`; past that, everything is read again. */
const MAX_KEPT = 10_000;

/** Kept answers are shared by every caller: frozen, so that none can change another's. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

/**
 * `read`, with the answer to each request kept (under `keyOf(request)`) until one of `tables`
 * changes, on a database with a change feed; elsewhere, `read` itself, with no key made. A read
 * in flight when a change is announced answers those who asked before it; whoever asks after it
 * reads again. A failed read is not kept.
 */
export function keepUntilChanged<R, T>(
  db: Db,
  tables: readonly AnnouncedTable[],
  read: (request: R) => Promise<T>,
  keyOf: (request: R) => string = String,
): (request: R) => Promise<T> {
  const feed = changeFeedOf(db);
  if (!feed) return read;
  const kept = new Map<string, Promise<T>>();
  for (const table of tables) feed.subscribe(table, () => kept.clear());
  return (request) => {
    if (!feed.active) return read(request);
    const key = keyOf(request);
    let answer = kept.get(key);
    if (!answer) {
      if (kept.size >= MAX_KEPT) kept.clear();
      const reading = read(request).then(deepFreeze);
      kept.set(key, reading);
      reading.catch(() => {
        if (kept.get(key) === reading) kept.delete(key);
      });
      answer = reading;
    }
    return answer;
  };
}
