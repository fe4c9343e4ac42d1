import { z } from "zod";
import type {} from "next-auth/jwt";
import type { Identity } from "../runtime/types";

/**
 * What a console session remembers about its person: who they are and the groups the
 * directory reported at login. Roles are not stored; they are resolved from the realm
 * mappings on every request, so a mapping change takes effect at once.
 */
export const sessionIdentitySchema = z.object({
  subject: z.string().min(1).max(256),
  displayName: z.string().max(256).optional(),
  groups: z.array(z.string().max(1024)).max(2_000),
  source: z.string().min(1).max(64),
});
export type SessionIdentity = z.infer<typeof sessionIdentitySchema>;

export function toSessionIdentity(identity: Identity): SessionIdentity {
  return {
    subject: identity.subject,
    ...(identity.displayName ? { displayName: identity.displayName } : {}),
    groups: identity.groups,
    source: identity.source,
  };
}

/** How long a console session lasts from sign-in: one working day. */
export const SESSION_MAX_AGE_SECONDS = 8 * 60 * 60;

/**
 * Which sign-in a session cookie belongs to, given at sign-in: its id is what a sign-out
 * records as ended, and `startedAt` (seconds since the epoch) bounds its life to the maximum
 * age however often the cookie is re-issued.
 */
export const sessionClaimsSchema = z.object({
  id: z.uuid(),
  startedAt: z.number().int().nonnegative(),
});
export type SessionClaims = z.infer<typeof sessionClaimsSchema>;

/** When a session ends on its own: its maximum age after sign-in, however often its cookie is re-issued. */
export function sessionEndsAt(claims: SessionClaims): Date {
  return new Date((claims.startedAt + SESSION_MAX_AGE_SECONDS) * 1000);
}

/** A session's identity as the runtime records it on every frame the person starts. */
export function fromSessionIdentity(session: SessionIdentity): Identity {
  return { ...session, kind: "user" };
}

declare module "next-auth" {
  interface User {
    identity?: SessionIdentity;
  }
  interface Session {
    identity?: SessionIdentity;
  }
}

declare module "next-auth/jwt" {
  interface JWT {
    identity?: SessionIdentity;
    session?: SessionClaims;
  }
}
