import { inArray, sql, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";

/**
 * Which realms a query may see. `"all"` is only for the runtime itself and for admins of the
 * instance; every console and API query passes the caller's realms.
 */
export type RealmScope = "all" | readonly string[];

export function realmCondition(column: PgColumn, scope: RealmScope): SQL {
  if (scope === "all") return sql`true`;
  if (scope.length === 0) return sql`false`;
  return inArray(column, [...scope]);
}
