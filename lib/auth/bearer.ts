import type { Db } from "../../db/client";
import { AppError } from "../errors";
import { resolveActor, type Actor } from "../services/actor";
import { resolveServiceToken } from "../services/service-tokens";

/**
 * The caller of a REST API request: `Authorization: Bearer lst_…` resolved to a service
 * actor that holds exactly the token's role in the token's realm. The same error for a
 * missing, malformed, unknown, expired or revoked token.
 */
export async function actorFromBearer(deps: { db: Db; now?: () => Date }, headers: Headers): Promise<Actor> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.get("authorization") ?? "");
  const token = match ? await resolveServiceToken(deps, match[1]!) : null;
  if (!token) throw new AppError("unauthenticated", "Send a valid service token: Authorization: Bearer lst_…");
  const via = `token:${token.id}`;
  return resolveActor(deps.db, {
    subject: via,
    displayName: token.name,
    groups: [],
    kind: "service",
    source: "service-token",
    grants: [{ realm: token.realm, role: token.role, via }],
  });
}
