import type { RuntimeStore } from "./store";
import type { AuthorizationDecision, Authorizer, Clock, Identity, Role } from "./types";

/** Roles ordered by what they may do; `auditor` may view and export but never run. */
export const ROLE_RANK: Record<Role, number> = { viewer: 1, auditor: 2, operator: 3, maintainer: 4, admin: 5 };
const INVOKING_ROLES: ReadonlySet<Role> = new Set(["operator", "maintainer", "admin"]);

export function canInvoke(role: Role): boolean {
  return INVOKING_ROLES.has(role);
}

/** Direct grants carried by an identity (service tokens are scoped to one realm and role). */
export interface Grant {
  realm: string;
  role: Role;
  via: string;
}

export type GrantedIdentity = Identity & { grants?: Grant[] };

/**
 * Authorizes each frame from the realm mappings stored in the database, read on every call so
 * that a removed mapping takes effect for the very next frame.
 */
export function createRealmAuthorizer({ store, clock }: { store: RuntimeStore; clock: Clock }): Authorizer {
  return {
    async authorize({ identity, realm, action }): Promise<AuthorizationDecision> {
      const checkedAt = clock.now().toISOString();
      const held: { role: Role; via: string }[] = [];
      for (const grant of (identity as GrantedIdentity).grants ?? []) {
        if (grant.realm === realm) held.push({ role: grant.role, via: grant.via });
      }
      if (identity.groups.length > 0) {
        for (const m of await store.getRealmRoles(realm, identity.groups)) held.push({ role: m.role, via: m.groupDn });
      }
      held.sort((a, b) => ROLE_RANK[b.role] - ROLE_RANK[a.role]);
      const allowed = held.find((h) => canInvoke(h.role));
      if (allowed) {
        return { allowed: true, action, realm, role: allowed.role, via: allowed.via, reason: `role ${allowed.role} in realm ${realm} via ${allowed.via}`, checkedAt };
      }
      const best = held[0];
      return {
        allowed: false,
        action,
        realm,
        role: best?.role ?? null,
        via: best?.via ?? null,
        reason: best
          ? `role ${best.role} in realm ${realm} may not invoke loops (operator, maintainer or admin required)`
          : `${identity.subject} holds no role in realm ${realm}`,
        checkedAt,
      };
    },
  };
}
