import type { Db } from "../../db/client";
import { appendAuditEvent, auditActorOf } from "../../db/queries/audit";
import { recordEndedSession } from "../../db/queries/sessions";
import { fromSessionIdentity, sessionClaimsSchema, sessionEndsAt, sessionIdentitySchema } from "../auth/session";

export interface EndSessionDeps {
  db: Db;
  now?: () => Date;
}

/**
 * Signs a session out everywhere: clearing the cookie only ends it in the browser that held
 * it, so the session is recorded as ended and every later request carrying a copy of the
 * cookie is refused (see `isSessionLive`). The sign-out is audited as the sign-in was.
 * A cookie without claims or identity has nothing to end.
 */
export async function endSession(deps: EndSessionDeps, token: { session?: unknown; identity?: unknown }): Promise<void> {
  const claims = sessionClaimsSchema.safeParse(token.session);
  if (!claims.success) return;
  const now = (deps.now ?? (() => new Date()))();
  const expiresAt = sessionEndsAt(claims.data);
  if (expiresAt.getTime() <= now.getTime()) return;
  await recordEndedSession(deps.db, { id: claims.data.id, expiresAt, now });
  const identity = sessionIdentitySchema.safeParse(token.identity);
  await appendAuditEvent(deps.db, {
    action: "logout",
    outcome: "ok",
    actor: identity.success ? auditActorOf(fromSessionIdentity(identity.data)) : { subject: "unknown" },
    targetType: "session",
    targetId: claims.data.id,
    data: {},
    at: now,
  });
}
