import type { Db } from "../../db/client";
import { getRolesForGroups } from "../../db/queries/realms";
import type { RealmScope } from "../../db/queries/scope";
import { AppError } from "../errors";
import type { Grant } from "../runtime/authorizer";
import type { Identity, Role } from "../runtime/types";

/** The caller of a use case: who they are and which role they hold in which realm. */
export interface Actor {
  identity: Identity & { grants?: Grant[] };
  roles: { realm: string; role: Role; via: string }[];
}

export type Permission = "view" | "run" | "edit" | "promote" | "export" | "admin";

const PERMITTED: Record<Permission, readonly Role[]> = {
  view: ["viewer", "auditor", "operator", "maintainer", "admin"],
  run: ["operator", "maintainer", "admin"],
  edit: ["maintainer", "admin"],
  promote: ["maintainer", "admin"],
  export: ["auditor", "admin"],
  admin: ["admin"],
};

export function can(actor: Actor, permission: Permission, realm: string): boolean {
  return actor.roles.some((r) => r.realm === realm && PERMITTED[permission].includes(r.role));
}

/** The realms in which the actor holds `permission`: the scope of every query made for them. */
export function realmsFor(actor: Actor, permission: Permission): string[] {
  return [...new Set(actor.roles.filter((r) => PERMITTED[permission].includes(r.role)).map((r) => r.realm))].sort();
}

export function scopeFor(actor: Actor, permission: Permission): RealmScope {
  return realmsFor(actor, permission);
}

/**
 * Throws `not_found` rather than `forbidden` when the actor cannot even view the realm, so a
 * caller never learns that something exists in a realm they have no role in.
 */
export function assertCan(actor: Actor, permission: Permission, realm: string, what: string): void {
  if (can(actor, permission, realm)) return;
  if (!can(actor, "view", realm)) throw new AppError("not_found", `${what} does not exist`);
  throw new AppError("forbidden", `Your role in realm ${realm} does not allow this (${permission})`);
}

/** Resolves an identity's realm roles from the stored group mappings and its direct grants. */
export async function resolveActor(db: Db, identity: Actor["identity"]): Promise<Actor> {
  const fromGroups = await getRolesForGroups(db, identity.groups);
  const roles = [
    ...fromGroups.map((m) => ({ realm: m.realmId, role: m.role, via: m.groupDn })),
    ...(identity.grants ?? []).map((g) => ({ realm: g.realm, role: g.role, via: g.via })),
  ];
  return { identity, roles };
}
