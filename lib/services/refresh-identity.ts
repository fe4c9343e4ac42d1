import type { Db } from "../../db/client";
import { appendAuditEvent } from "../../db/queries/audit";
import { getIdentity, upsertIdentity } from "../../db/queries/identities";
import { normalizeDn } from "../../db/queries/realms";
import type { Directory } from "../auth/directory";
import type { Identity } from "../runtime/types";

export const DEFAULT_GROUP_RECHECK_SECONDS = 300;

export interface RefreshIdentityDeps {
  db: Db;
  directory: Directory;
  /** Stored groups younger than this are trusted as they are; 0 re-reads on every call. */
  groupRecheckSeconds?: number;
  now?: () => Date;
}

/** Sources whose people come from the configured directory and must still be in it. */
const DIRECTORY_SOURCES: ReadonlySet<string> = new Set(["ldap", "dev-directory"]);

/**
 * The identity to invoke with, its groups no older than the re-check interval. Call it
 * before starting a run: a person removed from a group, or from the directory, loses the
 * roles that came with it at their next invocation instead of when their session expires.
 *
 * Services (bearer tokens) and identities not from a directory (the CLI) pass unchanged.
 * A person from another directory than the configured one (the development directory
 * after a switch to LDAP) holds no groups. An unreachable directory throws `unavailable`:
 * an invocation does not go ahead on groups that can no longer be confirmed.
 */
export async function refreshIdentity(deps: RefreshIdentityDeps, identity: Identity): Promise<Identity> {
  if (identity.kind !== "user" || !DIRECTORY_SOURCES.has(identity.source)) return identity;
  if (identity.source !== deps.directory.kind) return { ...identity, groups: [] };

  const now = (deps.now ?? (() => new Date()))();
  const maxAgeMs = (deps.groupRecheckSeconds ?? DEFAULT_GROUP_RECHECK_SECONDS) * 1000;
  const stored = await getIdentity(deps.db, identity.subject);
  if (stored && stored.source === identity.source && now.getTime() - stored.groupsCheckedAt.getTime() < maxAgeMs) {
    return { ...identity, groups: stored.groups };
  }

  const current = await deps.directory.lookup(identity.subject);
  const groups = current ? [...new Set(current.groups.map(normalizeDn))].sort() : [];
  const before = stored?.groups ?? identity.groups;
  await upsertIdentity(deps.db, {
    subject: identity.subject,
    dn: current?.dn ?? stored?.dn ?? null,
    displayName: current?.displayName ?? stored?.displayName ?? identity.displayName ?? null,
    email: current?.email ?? stored?.email ?? null,
    source: identity.source,
    groups,
    groupsCheckedAt: now,
    isLogin: false,
  });
  const removed = before.filter((g) => !groups.includes(normalizeDn(g)));
  const added = groups.filter((g) => !before.map(normalizeDn).includes(g));
  if (removed.length > 0 || added.length > 0) {
    await appendAuditEvent(deps.db, {
      action: current ? "identity.groups_changed" : "identity.removed",
      actor: { subject: identity.subject, source: identity.source, kind: "user" },
      targetType: "identity",
      targetId: identity.subject,
      data: { added, removed },
    });
  }
  return { ...identity, ...(current ? { displayName: current.displayName } : {}), groups };
}
