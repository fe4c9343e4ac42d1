import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { Role } from "../../lib/runtime/types";
import type { Db } from "../client";
import { keepUntilChanged } from "../change-feed";
import { realmMappings, realms } from "../schema";
import { oncePerDatabase, prepareNamed } from "../prepared-statement";
import { batchPerTick } from "./batch";

const DN_SPECIAL = new Set([",", "+", '"', "\\", "<", ">", ";", "=", "#"]);

/**
 * DNs compare case-insensitively; spaces around separators are not significant; an escaped
 * character means the same written as `\,` or as its hex pair `\2C` (servers return either).
 * RDNs split only on unescaped commas.
 */
export function normalizeDn(dn: string): string {
  const rdns: string[] = [];
  let current = "";
  for (let i = 0; i < dn.length; i++) {
    const c = dn[i]!;
    if (c === "\\" && i + 1 < dn.length) {
      if (/^[0-9a-fA-F]{2}$/.test(dn.slice(i + 1, i + 3))) {
        // A run of hex pairs is UTF-8 bytes: `\C3\A9` is one character.
        const bytes: number[] = [];
        while (dn[i] === "\\" && /^[0-9a-fA-F]{2}$/.test(dn.slice(i + 1, i + 3))) {
          bytes.push(Number.parseInt(dn.slice(i + 1, i + 3), 16));
          i += 3;
        }
        i -= 1;
        for (const decoded of Buffer.from(bytes).toString("utf8")) current += DN_SPECIAL.has(decoded) ? `\\${decoded}` : decoded;
      } else {
        current += `\\${dn[i + 1]}`;
        i += 1;
      }
    } else if (c === ",") {
      rdns.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  rdns.push(current);
  return rdns
    .map((rdn) => {
      const eq = rdn.indexOf("=");
      return eq < 0 ? rdn.trim() : `${rdn.slice(0, eq).trim()}=${rdn.slice(eq + 1).trim()}`;
    })
    .join(",")
    .toLowerCase();
}

export async function ensureRealm(db: Db, realm: { id: string; name?: string; description?: string }): Promise<void> {
  await db
    .insert(realms)
    .values({ id: realm.id, name: realm.name ?? realm.id, description: realm.description ?? "" })
    .onConflictDoNothing();
}

export async function listRealms(db: Db) {
  return db.select().from(realms).orderBy(asc(realms.id));
}

function prepareRealmRoles(db: Db) {
  return prepareNamed(
    "realm_roles",
    db
      .select({ realmId: realmMappings.realmId, groupDn: realmMappings.groupDn, role: realmMappings.role })
      .from(realmMappings)
      .where(and(sql`${realmMappings.realmId} = any(${sql.placeholder("realmIds")}::text[])`, sql`${realmMappings.groupDn} = any(${sql.placeholder("groups")}::text[])`)),
  );
}
const realmRolesQuery = oncePerDatabase(prepareRealmRoles);

/**
 * The roles a set of groups holds in each of these realms, read as the mappings stand now.
 * Read before every frame is dispatched, so it is prepared once per database handle.
 */
export async function getRealmRolesIn(db: Db, realmIds: readonly string[], groupDns: readonly string[]): Promise<{ realmId: string; groupDn: string; role: Role }[]> {
  if (groupDns.length === 0 || realmIds.length === 0) return [];
  const rows = await realmRolesQuery(db).execute({ realmIds: [...realmIds], groups: groupDns.map(normalizeDn) });
  return rows as { realmId: string; groupDn: string; role: Role }[];
}

/**
 * `getRealmRoles` for the runtime, which asks before every frame: the reads that arrive in the
 * same turn of the event loop (the child frames of one model turn, dispatched together) become
 * one query per set of groups, sent after they were asked, so a removed mapping takes effect for
 * the very next frame. On a database with a change feed (embedded PGlite, see `ChangeFeed`), the
 * answers are also kept until the mappings change: this process hears of every change before
 * whoever made it is told it is done, so the very next frame is still decided on the mappings as
 * they stand, without waiting behind the database's other work.
 */
export function createRealmRolesReader(
  db: Db,
  read: typeof getRealmRolesIn = getRealmRolesIn,
): (realmId: string, groupDns: readonly string[]) => Promise<{ groupDn: string; role: Role }[]> {
  const batched = batchPerTick(async (requests: { realmId: string; groupDns: readonly string[] }[]) => {
    // One query per set of groups, for every realm asked about with it.
    const sets = new Map<string, { groupDns: readonly string[]; realmIds: Set<string> }>();
    const keys = requests.map(({ realmId, groupDns }) => {
      const key = JSON.stringify(groupDns);
      const set = sets.get(key) ?? { groupDns, realmIds: new Set<string>() };
      set.realmIds.add(realmId);
      sets.set(key, set);
      return key;
    });
    const rows = new Map(await Promise.all([...sets].map(async ([key, set]) => [key, await read(db, [...set.realmIds], set.groupDns)] as const)));
    return requests.map(({ realmId }, i) => rows.get(keys[i]!)!.filter((r) => r.realmId === realmId).map(({ groupDn, role }) => ({ groupDn, role })));
  });
  // The key keeps the realm and each group apart, whatever characters their names hold.
  const kept = keepUntilChanged(db, ["realm_mappings"], batched, ({ realmId, groupDns }) => JSON.stringify([realmId, groupDns]));
  return (realmId, groupDns) => (groupDns.length === 0 ? Promise.resolve([]) : kept({ realmId, groupDns }));
}

/** Every (realm, role) a set of groups holds; used to compute a caller's realm scope. */
export async function getRolesForGroups(db: Db, groupDns: readonly string[]): Promise<{ realmId: string; groupDn: string; role: Role }[]> {
  if (groupDns.length === 0) return [];
  const rows = await db
    .select({ realmId: realmMappings.realmId, groupDn: realmMappings.groupDn, role: realmMappings.role })
    .from(realmMappings)
    .where(inArray(realmMappings.groupDn, groupDns.map(normalizeDn)));
  return rows as { realmId: string; groupDn: string; role: Role }[];
}

export async function addRealmMapping(db: Db, params: { realmId: string; groupDn: string; role: Role; createdBy: string }): Promise<boolean> {
  await ensureRealm(db, { id: params.realmId });
  const inserted = await db
    .insert(realmMappings)
    .values({ realmId: params.realmId, groupDn: normalizeDn(params.groupDn), role: params.role, createdBy: params.createdBy })
    .onConflictDoNothing()
    .returning({ id: realmMappings.id });
  return inserted.length > 0;
}

export async function removeRealmMapping(db: Db, params: { realmId: string; groupDn: string; role: Role }): Promise<boolean> {
  const deleted = await db
    .delete(realmMappings)
    .where(
      and(
        eq(realmMappings.realmId, params.realmId),
        eq(realmMappings.groupDn, normalizeDn(params.groupDn)),
        eq(realmMappings.role, params.role),
      ),
    )
    .returning({ id: realmMappings.id });
  return deleted.length > 0;
}

export async function listRealmMappings(db: Db, realmId?: string) {
  return db
    .select()
    .from(realmMappings)
    .where(realmId ? eq(realmMappings.realmId, realmId) : undefined)
    .orderBy(asc(realmMappings.realmId), asc(realmMappings.groupDn));
}
