import { redirect } from "next/navigation";
import { cache } from "react";
import { auth } from "../auth/auth";
import { fromSessionIdentity, sessionIdentitySchema } from "../auth/session";
import { AppError } from "../errors";
import { resolveActor, type Actor } from "../services/actor";
import { refreshSessionIdentity } from "../services/refresh-identity";
import { getInstance } from "./instance";

/** Why nothing can be run or changed while the directory is down; actions and routes answer it with 503. */
export const DIRECTORY_UNAVAILABLE_MESSAGE =
  "The directory cannot be reached, so your roles cannot be re-checked: nothing can be run or changed until it is back. You can still view what your roles last allowed, and sign out.";

/**
 * The signed-in person from the verified session cookie (signed-out sessions are already
 * anonymous, see lib/auth/auth.ts), or null — with their groups re-read from the directory
 * once they are older than the re-check interval, so removing someone from a group takes
 * effect without waiting for their session to expire. While the directory cannot be reached,
 * the groups it last confirmed, marked unconfirmed.
 * Cached per request so a layout and its page share one lookup.
 */
const consoleSession = cache(async (): Promise<{ actor: Actor; areGroupsConfirmed: boolean } | null> => {
  const session = await auth();
  const parsed = sessionIdentitySchema.safeParse(session?.identity);
  if (!parsed.success) return null;
  const instance = await getInstance();
  const { identity, areGroupsConfirmed } = await refreshSessionIdentity(
    { db: instance.database.db, directory: instance.directory, groupRecheckSeconds: instance.groupRecheckSeconds },
    fromSessionIdentity(parsed.data),
  );
  return { actor: await resolveActor(instance.database.db, identity), areGroupsConfirmed };
});

export interface RequireActorOptions {
  /** Pages pass "redirect" to send anonymous visitors to the login page; the default throws `unauthenticated`. */
  onAnonymous?: "throw" | "redirect";
  /**
   * "view" only reads, and is served on the groups last confirmed while the directory cannot
   * be reached; "act" (run, cancel, register, promote, map, export…) is then refused with
   * `unavailable`. Pages view; everything else acts unless it says otherwise.
   */
  intent?: "view" | "act";
}

/**
 * The caller of every page, route handler and server action. Roles are resolved from the
 * realm mappings on each request; the client is never trusted to say who it is.
 */
export async function requireActor(options: RequireActorOptions = {}): Promise<Actor> {
  const session = await consoleSession();
  if (!session) {
    if (options.onAnonymous === "redirect") redirect("/login");
    throw new AppError("unauthenticated", "Sign in to continue");
  }
  const intent = options.intent ?? (options.onAnonymous === "redirect" ? "view" : "act");
  if (intent === "act" && !session.areGroupsConfirmed) throw new AppError("unavailable", DIRECTORY_UNAVAILABLE_MESSAGE);
  return session.actor;
}

/** True when this request's groups could not be re-checked because the directory cannot be reached. */
export async function areGroupsUnconfirmed(): Promise<boolean> {
  const session = await consoleSession();
  return session !== null && !session.areGroupsConfirmed;
}
