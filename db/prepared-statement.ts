import { createHash } from "node:crypto";
import type pg from "pg";

/**
 * A statement with parameters as node-postgres prepares it once per connection and reuses it:
 * the server parses and plans it once instead of for every call. The name is made from the
 * text, so a connection never meets one name for two texts (node-postgres refuses that).
 */
const statementNames = new Map<string, string>();
export function prepared(text: string, params: unknown[] | undefined): string | pg.QueryConfig {
  if (!params || params.length === 0) return text;
  let name = statementNames.get(text);
  if (!name) {
    name = `loopstacks_${createHash("sha1").update(text).digest("hex").slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return { name, text, values: params };
}

/**
 * Prepares a Drizzle query under a name made from its text: node-postgres refuses a name that a
 * connection already prepared with different SQL (a pool kept across a dev-server reload, say).
 */
export function prepareNamed<Q extends { toSQL(): { sql: string }; prepare(name: string): unknown }>(name: string, query: Q): ReturnType<Q["prepare"]> {
  const digest = createHash("sha256").update(query.toSQL().sql).digest("hex").slice(0, 12);
  return query.prepare(`loopstacks_${name}_${digest}`) as ReturnType<Q["prepare"]>;
}

/** What `prepare` makes of a database handle, made once per handle. */
export function oncePerDatabase<D extends object, P>(prepare: (db: D) => P): (db: D) => P {
  const made = new WeakMap<D, P>();
  return (db) => {
    let value = made.get(db);
    if (value === undefined) {
      value = prepare(db);
      made.set(db, value);
    }
    return value;
  };
}
