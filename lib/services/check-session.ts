import type { Db } from "../../db/client";
import { isSessionEnded } from "../../db/queries/sessions";
import { SESSION_MAX_AGE_SECONDS, sessionClaimsSchema } from "../auth/session";

export interface CheckSessionDeps {
  db: Db;
  maxAgeSeconds?: number;
  now?: () => Date;
}

/**
 * Whether a session cookie still stands for a signed-in person: it names its sign-in, is no
 * older than the maximum age since then, and was not signed out — in any process sharing
 * the database. A cookie without the claims was issued before sign-outs were recorded and
 * cannot be ended, so it is refused; its holder signs in again.
 */
export async function isSessionLive(deps: CheckSessionDeps, claims: unknown): Promise<boolean> {
  const parsed = sessionClaimsSchema.safeParse(claims);
  if (!parsed.success) return false;
  const now = (deps.now ?? (() => new Date()))();
  const endsAtMs = (parsed.data.startedAt + (deps.maxAgeSeconds ?? SESSION_MAX_AGE_SECONDS)) * 1000;
  if (now.getTime() >= endsAtMs) return false;
  return !(await isSessionEnded(deps.db, parsed.data.id));
}
