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
