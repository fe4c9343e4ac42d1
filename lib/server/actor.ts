import { redirect } from "next/navigation";
import { cache } from "react";
import { auth } from "../auth/auth";
import { fromSessionIdentity, sessionIdentitySchema } from "../auth/session";
import { AppError } from "../errors";
import { resolveActor, type Actor } from "../services/actor";
import { refreshIdentity } from "../services/refresh-identity";
import { getInstance } from "./instance";

/**
 * The signed-in person from the verified session cookie, or null — with their groups re-read
 * from the directory once they are older than the re-check interval, so removing someone from
 * a group takes effect without waiting for their session to expire.
 * Cached per request so a layout and its page share one lookup.
 */
const sessionActor = cache(async (): Promise<Actor | null> => {
  const session = await auth();
  const parsed = sessionIdentitySchema.safeParse(session?.identity);
  if (!parsed.success) return null;
  const instance = await getInstance();
  const identity = await refreshIdentity(
    { db: instance.database.db, directory: instance.directory, groupRecheckSeconds: instance.groupRecheckSeconds },
    fromSessionIdentity(parsed.data),
  );
  return resolveActor(instance.database.db, identity);
});

/**
 * The caller of every page, route handler and server action. Roles are resolved from the
 * realm mappings on each request; the client is never trusted to say who it is.
 * Pages pass `onAnonymous: "redirect"` to send anonymous visitors to the login page;
 * actions and route handlers get an `unauthenticated` error.
 */
export async function requireActor(options: { onAnonymous?: "throw" | "redirect" } = {}): Promise<Actor> {
  const actor = await sessionActor();
  if (actor) return actor;
  if (options.onAnonymous === "redirect") redirect("/login");
  throw new AppError("unauthenticated", "Sign in to continue");
}
