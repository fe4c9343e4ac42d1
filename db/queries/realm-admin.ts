import { and, asc, count, eq, inArray } from "drizzle-orm";
import type { Db } from "../client";
import { realmMappings, realms } from "../schema";
import type { RealmScope } from "./scope";

export interface RealmRecord {
  id: string;
  name: string;
  description: string;
}

/** Creates the realm or updates its name and description; says which happened. */
export async function upsertRealm(
  db: Db,
  realm: { id: string; name?: string; description?: string; exportPayloads?: "raw" | "hashed" },
): Promise<"created" | "updated" | "unchanged"> {
  const [existing] = await db
    .select({ name: realms.name, description: realms.description, settings: realms.settings })
    .from(realms)
    .where(eq(realms.id, realm.id))
    .limit(1);
  const withExport = (settings: Record<string, unknown>) =>
    realm.exportPayloads ? { ...settings, export: { ...((settings.export as object | undefined) ?? {}), payloads: realm.exportPayloads } } : settings;
  if (!existing) {
    await db
      .insert(realms)
      .values({ id: realm.id, name: realm.name ?? realm.id, description: realm.description ?? "", settings: withExport({}) })
      .onConflictDoNothing();
    return "created";
  }
  const name = realm.name ?? existing.name;
  const description = realm.description ?? existing.description;
  const settings = withExport(existing.settings);
  if (name === existing.name && description === existing.description && JSON.stringify(settings) === JSON.stringify(existing.settings)) return "unchanged";
  await db.update(realms).set({ name, description, settings }).where(eq(realms.id, realm.id));
  return "updated";
}

export async function realmExists(db: Db, realmId: string): Promise<boolean> {
  const [row] = await db.select({ id: realms.id }).from(realms).where(eq(realms.id, realmId)).limit(1);
  return Boolean(row);
}

export async function countAdminMappings(db: Db, realmId: string): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(realmMappings)
    .where(and(eq(realmMappings.realmId, realmId), eq(realmMappings.role, "admin")));
  return row?.n ?? 0;
}

export interface MappingRow {
  id: string;
  realmId: string;
  groupDn: string;
  role: string;
  createdBy: string;
  createdAt: Date;
}

/** Realms in `scope` with their mappings, realms without mappings included. */
export async function listRealmsWithMappings(db: Db, scope: RealmScope): Promise<(RealmRecord & { mappings: MappingRow[] })[]> {
  if (scope !== "all" && scope.length === 0) return [];
  const realmRows = await db
    .select({ id: realms.id, name: realms.name, description: realms.description })
    .from(realms)
    .where(scope === "all" ? undefined : inArray(realms.id, [...scope]))
    .orderBy(asc(realms.id));
  if (realmRows.length === 0) return [];
  const mappingRows = await db
    .select()
    .from(realmMappings)
    .where(inArray(realmMappings.realmId, realmRows.map((r) => r.id)))
    .orderBy(asc(realmMappings.realmId), asc(realmMappings.groupDn), asc(realmMappings.role));
  return realmRows.map((realm) => ({ ...realm, mappings: mappingRows.filter((m) => m.realmId === realm.id) }));
}
