import { z } from "zod";
import type { Db } from "../../db/client";
import { appendAuditEvent, auditActorOf } from "../../db/queries/audit";
import { countAdminMappings, listRealmsWithMappings, realmExists, upsertRealm, type MappingRow, type RealmRecord } from "../../db/queries/realm-admin";
import { addRealmMapping, normalizeDn, removeRealmMapping } from "../../db/queries/realms";
import { AppError } from "../errors";
import { ROLES, type Role } from "../runtime/types";
import { assertCan, realmsFor, type Actor } from "./actor";

/**
 * The operator at a terminal running the `loopstacks` CLI. The CLI opens the database
 * directly, so whoever runs it already holds every right; this is how the first admin
 * mapping of a realm is made. Only the CLI builds one of these.
 */
export interface CliOperator {
  subject: string;
  kind: "user";
  source: "cli";
}

export type MappingActor = Actor | CliOperator;

const isCliOperator = (actor: MappingActor): actor is CliOperator => !("roles" in actor);

export const realmIdSchema = z
  .string()
  .trim()
  .min(1, "Enter a realm")
  .max(100)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, "use lower-case letters, digits, '.', '_' or '-', starting with a letter or digit");

export const groupDnSchema = z
  .string()
  .trim()
  .min(1, "Enter a group DN")
  .max(1024)
  .refine((dn) => /^[^=,]+=[^=]/.test(dn) && !/[\u0000-\u001f]/.test(dn), "must be a group DN such as cn=ops,ou=groups,dc=example,dc=org");

export const roleSchema = z.enum(ROLES, { error: `must be one of ${ROLES.join(", ")}` });

export const mappingSchema = z.object({ realm: realmIdSchema, groupDn: groupDnSchema, role: roleSchema });
export type MappingInput = z.input<typeof mappingSchema>;

export interface MappingView {
  realm: string;
  groupDn: string;
  role: Role;
  createdBy: string;
  createdAt: string;
}

function parse<T extends z.ZodType>(schema: T, raw: unknown, code: "invalid_input" | "invalid_definition" = "invalid_input", prefix = ""): z.output<T> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({
    path: [prefix, ...i.path.map((p) => (typeof p === "number" ? `[${p}]` : String(p)))].filter(Boolean).join(".").replace(/\.\[/g, "["),
    message: i.message,
  }));
  throw new AppError(code, issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("\n"), { issues });
}

function assertAdmin(actor: MappingActor, realm: string): void {
  if (!isCliOperator(actor)) assertCan(actor, "admin", realm, `Realm ${realm}`);
}

function auditActor(actor: MappingActor) {
  return auditActorOf(isCliOperator(actor) ? actor : actor.identity);
}

function toView(row: MappingRow): MappingView {
  return { realm: row.realmId, groupDn: row.groupDn, role: row.role as Role, createdBy: row.createdBy, createdAt: row.createdAt.toISOString() };
}

/** Maps an LDAP group to a role in a realm. Admins of the realm only; idempotent. */
export async function addMapping(deps: { db: Db }, actor: MappingActor, raw: MappingInput): Promise<{ added: boolean; realm: string; groupDn: string; role: Role }> {
  const input = parse(mappingSchema, raw);
  assertAdmin(actor, input.realm);
  const groupDn = normalizeDn(input.groupDn);
  if (isCliOperator(actor) && !(await realmExists(deps.db, input.realm))) {
    await upsertRealm(deps.db, { id: input.realm });
    await appendAuditEvent(deps.db, { action: "realm.created", actor: auditActor(actor), realmId: input.realm, targetType: "realm", targetId: input.realm, data: {} });
  }
  const added = await addRealmMapping(deps.db, { realmId: input.realm, groupDn, role: input.role, createdBy: auditActor(actor).subject });
  if (added) {
    await appendAuditEvent(deps.db, {
      action: "mapping.added",
      actor: auditActor(actor),
      realmId: input.realm,
      targetType: "realm_mapping",
      targetId: `${groupDn}#${input.role}`,
      data: { groupDn, role: input.role },
    });
  }
  return { added, realm: input.realm, groupDn, role: input.role };
}

/**
 * Removes a mapping. Admins of the realm only. The console refuses to remove a realm's last
 * admin mapping, which would leave nobody able to manage it there; the CLI may.
 */
export async function removeMapping(deps: { db: Db }, actor: MappingActor, raw: MappingInput): Promise<{ removed: true; realm: string; groupDn: string; role: Role }> {
  const input = parse(mappingSchema, raw);
  assertAdmin(actor, input.realm);
  const groupDn = normalizeDn(input.groupDn);
  if (input.role === "admin" && !isCliOperator(actor) && (await countAdminMappings(deps.db, input.realm)) === 1) {
    const [realm] = await listRealmsWithMappings(deps.db, [input.realm]);
    if (realm?.mappings.some((m) => m.groupDn === groupDn && m.role === "admin")) {
      throw new AppError("conflict", `This is the last admin mapping of realm ${input.realm}; map another admin group first`);
    }
  }
  const removed = await removeRealmMapping(deps.db, { realmId: input.realm, groupDn, role: input.role });
  if (!removed) throw new AppError("not_found", `Realm ${input.realm} has no mapping of ${groupDn} to ${input.role}`);
  await appendAuditEvent(deps.db, {
    action: "mapping.removed",
    actor: auditActor(actor),
    realmId: input.realm,
    targetType: "realm_mapping",
    targetId: `${groupDn}#${input.role}`,
    data: { groupDn, role: input.role },
  });
  return { removed: true, realm: input.realm, groupDn, role: input.role };
}

export interface RealmMappings extends RealmRecord {
  mappings: MappingView[];
}

/** The realms the caller administers (every realm for the CLI), each with its mappings. */
export async function listMappings(deps: { db: Db }, actor: MappingActor, raw: { realm?: string } = {}): Promise<RealmMappings[]> {
  const realm = raw.realm === undefined || raw.realm === "" ? undefined : parse(realmIdSchema, raw.realm);
  let scope: "all" | string[] = isCliOperator(actor) ? "all" : realmsFor(actor, "admin");
  if (realm) scope = scope === "all" || scope.includes(realm) ? [realm] : [];
  const rows = await listRealmsWithMappings(deps.db, scope);
  return rows.map((r) => ({ id: r.id, name: r.name, description: r.description, mappings: r.mappings.map(toView) }));
}

/**
 * The `realms:` section of a loops file:
 *
 * ```yaml
 * realms:
 *   - id: payments
 *     name: Payments
 *     mappings:
 *       - { group: "cn=payments-admins,ou=groups,dc=example,dc=org", role: admin }
 *       - { group: "cn=payments-ops,ou=groups,dc=example,dc=org", role: operator }
 *     exclusive: true   # optional: remove mappings of this realm that are not listed
 * ```
 */
export const realmsFileSectionSchema = z
  .array(
    z
      .object({
        id: realmIdSchema,
        name: z.string().trim().min(1).max(200).optional(),
        description: z.string().max(2_000).optional(),
        mappings: z.array(z.object({ group: groupDnSchema, role: roleSchema }).strict()).default([]),
        exclusive: z.boolean().default(false),
        /** What compliance bundles carry: raw inputs and outputs, or only their SHA-256. */
        export: z.object({ payloads: z.enum(["raw", "hashed"]) }).strict().optional(),
      })
      .strict(),
  )
  .superRefine((realms, context) => {
    const seen = new Set<string>();
    realms.forEach((realm, index) => {
      if (seen.has(realm.id)) context.addIssue({ code: "custom", path: [index, "id"], message: `realm ${realm.id} is listed twice` });
      seen.add(realm.id);
      if (realm.exclusive && !realm.mappings.some((m) => m.role === "admin")) {
        context.addIssue({ code: "custom", path: [index, "mappings"], message: "an exclusive realm must keep at least one admin mapping" });
      }
    });
  });
export type RealmsFileSection = z.output<typeof realmsFileSectionSchema>;

export function parseRealmsSection(section: unknown): RealmsFileSection {
  return parse(realmsFileSectionSchema, section ?? [], "invalid_definition", "realms");
}

export interface AppliedRealm {
  realm: string;
  realmChange: "created" | "updated" | "unchanged";
  added: { groupDn: string; role: Role }[];
  removed: { groupDn: string; role: Role }[];
}

/**
 * Applies a loops file's `realms:` section: creates or updates each realm, adds the listed
 * mappings and, for an `exclusive` realm, removes the others. Idempotent. A person or
 * service must be admin of each realm listed; new realms can only be created from the CLI.
 */
export async function applyRealms(db: Db, section: unknown, actor: MappingActor): Promise<AppliedRealm[]> {
  const realms = parseRealmsSection(section);
  for (const realm of realms) assertAdmin(actor, realm.id);
  const results: AppliedRealm[] = [];
  for (const realm of realms) {
    const realmChange = await upsertRealm(db, {
      id: realm.id,
      ...(realm.name ? { name: realm.name } : {}),
      ...(realm.description !== undefined ? { description: realm.description } : {}),
      ...(realm.export ? { exportPayloads: realm.export.payloads } : {}),
    });
    if (realmChange !== "unchanged") {
      await appendAuditEvent(db, {
        action: `realm.${realmChange}`,
        actor: auditActor(actor),
        realmId: realm.id,
        targetType: "realm",
        targetId: realm.id,
        data: {
          ...(realm.name ? { name: realm.name } : {}),
          ...(realm.description !== undefined ? { description: realm.description } : {}),
          ...(realm.export ? { exportPayloads: realm.export.payloads } : {}),
        },
      });
    }
    const wanted = new Set(realm.mappings.map((m) => `${normalizeDn(m.group)}#${m.role}`));
    const added: AppliedRealm["added"] = [];
    for (const mapping of realm.mappings) {
      const result = await addMapping({ db }, actor, { realm: realm.id, groupDn: mapping.group, role: mapping.role });
      if (result.added) added.push({ groupDn: result.groupDn, role: result.role });
    }
    const removed: AppliedRealm["removed"] = [];
    if (realm.exclusive) {
      const [current] = await listRealmsWithMappings(db, [realm.id]);
      for (const mapping of current?.mappings ?? []) {
        if (wanted.has(`${mapping.groupDn}#${mapping.role}`)) continue;
        await removeMapping({ db }, actor, { realm: realm.id, groupDn: mapping.groupDn, role: mapping.role as Role });
        removed.push({ groupDn: mapping.groupDn, role: mapping.role as Role });
      }
    }
    results.push({ realm: realm.id, realmChange, added, removed });
  }
  return results;
}
