import type { Db } from "../../db/client";
import { isSessionEnded } from "../../db/queries/sessions";
import { sessionClaimsSchema, sessionEndsAt } from "../auth/session";

export interface CheckSessionDeps {
  db: Db;
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
  if (now.getTime() >= sessionEndsAt(parsed.data).getTime()) return false;
  return !(await isSessionEnded(deps.db, parsed.data.id));
}
