import type { Db } from "../../db/client";
import { appendAuditEvent } from "../../db/queries/audit";
import { getIdentity, upsertIdentity } from "../../db/queries/identities";
import { normalizeDn } from "../../db/queries/realms";
import type { Directory } from "../auth/directory";
import { SESSION_MAX_AGE_SECONDS } from "../auth/session";
import { AppError, isAppError } from "../errors";
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

type StoredIdentity = Awaited<ReturnType<typeof getIdentity>>;

/** The stored groups, if they are this identity's and the directory confirmed them less than `ms` ago. */
function groupsCheckedWithin(stored: StoredIdentity, identity: Identity, now: Date, ms: number): string[] | null {
  return stored !== null && stored.source === identity.source && now.getTime() - stored.groupsCheckedAt.getTime() < ms ? stored.groups : null;
}

/** Per directory, until when it is not asked again after it could not be reached (ms since the epoch). */
const unreachableUntil = new WeakMap<Directory, number>();

/**
 * The identity with its groups no older than the re-check interval, and whether the directory
 * confirmed them. With `viewing`, an unreachable directory leaves the person the groups it last
 * confirmed (see `refreshSessionIdentity`); without, it throws `unavailable`.
 */
async function resolveGroups(deps: SessionIdentityDeps, identity: Identity, viewing: boolean): Promise<ViewingIdentity> {
  if (identity.kind !== "user" || !DIRECTORY_SOURCES.has(identity.source)) return { identity, areGroupsConfirmed: true };
  if (identity.source !== deps.directory.kind) return { identity: { ...identity, groups: [] }, areGroupsConfirmed: true };

  const now = (deps.now ?? (() => new Date()))();
  const stored = await getIdentity(deps.db, identity.subject);
  const fresh = groupsCheckedWithin(stored, identity, now, (deps.groupRecheckSeconds ?? DEFAULT_GROUP_RECHECK_SECONDS) * 1000);
  if (fresh) return { identity: { ...identity, groups: fresh }, areGroupsConfirmed: true };

  let current: Awaited<ReturnType<Directory["lookup"]>>;
  try {
    // While the directory is down, a viewing request does not wait out its timeout again.
    if (viewing && now.getTime() < (unreachableUntil.get(deps.directory) ?? 0)) throw new AppError("unavailable", "The directory cannot be reached");
    current = await deps.directory.lookup(identity.subject);
  } catch (error) {
    if (!viewing || !isAppError(error, "unavailable")) throw error;
    unreachableUntil.set(deps.directory, Math.max(unreachableUntil.get(deps.directory) ?? 0, now.getTime() + (deps.retrySeconds ?? 30) * 1000));
    return { identity: { ...identity, groups: groupsCheckedWithin(stored, identity, now, SESSION_MAX_AGE_SECONDS * 1000) ?? [] }, areGroupsConfirmed: false };
  }

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
  return { identity: { ...identity, ...(current ? { displayName: current.displayName } : {}), groups }, areGroupsConfirmed: true };
}

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
  return (await resolveGroups(deps, identity, false)).identity;
}

export interface SessionIdentityDeps extends RefreshIdentityDeps {
  /** After the directory could not be reached, how long to answer from the fallback without asking it again. */
  retrySeconds?: number;
}

export interface ViewingIdentity {
  identity: Identity;
  /** False while the directory cannot be reached: the groups are the ones it last confirmed. */
  areGroupsConfirmed: boolean;
}

/**
 * The identity a console session views with. As `refreshIdentity`, except that when the
 * directory cannot be reached the person keeps the groups it last confirmed (the stored ones,
 * so a removal a re-check already saw stays removed; never the groups the session cookie was
 * issued with), for no longer than a session lives after they were confirmed, and none after.
 * The caller must not let such an identity invoke or change anything. While the directory is
 * down, requests do not each wait out its timeout: it is asked again after `retrySeconds`.
 */
export function refreshSessionIdentity(deps: SessionIdentityDeps, identity: Identity): Promise<ViewingIdentity> {
  return resolveGroups(deps, identity, true);
}
