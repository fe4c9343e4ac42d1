import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import type { Db } from "../../db/client";
import { appendAuditEvent, auditActorOf } from "../../db/queries/audit";
import {
  findLiveServiceToken,
  getServiceToken,
  insertServiceToken,
  listServiceTokens as selectServiceTokens,
  revokeServiceToken as markRevoked,
  touchServiceToken,
  type ServiceTokenRecord,
} from "../../db/queries/service-tokens";
import { AppError } from "../errors";
import type { Role } from "../runtime/types";
import { assertCan, realmsFor, type Actor } from "./actor";
import { realmIdSchema, roleSchema } from "./manage-mappings";

/** Every token starts with this, so secret scanners and people recognise one. */
export const TOKEN_PREFIX = "lst_";
const TOKEN_PATTERN = /^lst_[A-Za-z0-9_-]{43}$/;
/** `lastUsedAt` is written at most this often per token. */
const LAST_USE_GRANULARITY_MS = 60_000;

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export const createServiceTokenSchema = z.object({
  name: z.string().trim().min(1, "Name the token after the service that will use it").max(100),
  realm: realmIdSchema,
  role: roleSchema,
  expiresInDays: z.preprocess((v) => (v === "" || v === null ? undefined : v), z.coerce.number().int().min(1).max(3650).optional()),
});
export type CreateServiceTokenInput = z.input<typeof createServiceTokenSchema>;

export interface ServiceTokenView {
  id: string;
  name: string;
  realm: string;
  role: Role;
  /** The token's first characters, to recognise it; never enough to use it. */
  prefix: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  status: "live" | "revoked" | "expired";
}

function toView(row: ServiceTokenRecord, now: Date): ServiceTokenView {
  return {
    id: row.id,
    name: row.name,
    realm: row.realmId,
    role: row.role as Role,
    prefix: row.prefix,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    status: row.revokedAt ? "revoked" : row.expiresAt && row.expiresAt <= now ? "expired" : "live",
  };
}

const auditActor = (actor: Actor) => auditActorOf(actor.identity);

function parse<T extends z.ZodType>(schema: T, raw: unknown): z.output<T> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
  throw new AppError("invalid_input", issues.map((i) => `${i.path}: ${i.message}`).join("\n"), { issues });
}

/**
 * Creates a bearer token for a service, scoped to one realm and one role. Admins of the realm
 * only. The token is returned here once; only its SHA-256 is kept.
 */
export async function createServiceToken(
  deps: { db: Db; now?: () => Date },
  actor: Actor,
  raw: CreateServiceTokenInput,
): Promise<{ token: string; serviceToken: ServiceTokenView }> {
  const input = parse(createServiceTokenSchema, raw);
  assertCan(actor, "admin", input.realm, `Realm ${input.realm}`);
  const now = (deps.now ?? (() => new Date()))();
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  const row = await insertServiceToken(deps.db, {
    name: input.name,
    realmId: input.realm,
    role: input.role,
    tokenHash: hashToken(token),
    prefix: token.slice(0, TOKEN_PREFIX.length + 6),
    createdBy: actor.identity.subject,
    expiresAt: input.expiresInDays ? new Date(now.getTime() + input.expiresInDays * 86_400_000) : null,
  });
  await appendAuditEvent(deps.db, {
    action: "token.created",
    actor: auditActor(actor),
    realmId: row.realmId,
    targetType: "service_token",
    targetId: row.id,
    data: { name: row.name, role: row.role, prefix: row.prefix, expiresAt: row.expiresAt?.toISOString() ?? null },
  });
  return { token, serviceToken: toView(row, now) };
}

/** Tokens of the realms the caller administers, newest first, revoked ones included. */
export async function listServiceTokens(deps: { db: Db; now?: () => Date }, actor: Actor): Promise<ServiceTokenView[]> {
  const now = (deps.now ?? (() => new Date()))();
  return (await selectServiceTokens(deps.db, { scope: realmsFor(actor, "admin") })).map((row) => toView(row, now));
}

/** Revokes a token at once. A token of a realm the caller does not administer does not exist for them. */
export async function revokeServiceToken(deps: { db: Db; now?: () => Date }, actor: Actor, raw: { id: unknown }): Promise<ServiceTokenView> {
  const id = z.uuid().safeParse(raw.id);
  if (!id.success) throw new AppError("not_found", "Token does not exist");
  const row = await getServiceToken(deps.db, { id: id.data, scope: realmsFor(actor, "view") });
  if (!row) throw new AppError("not_found", "Token does not exist");
  assertCan(actor, "admin", row.realmId, "Token");
  const now = (deps.now ?? (() => new Date()))();
  if (await markRevoked(deps.db, { id: row.id, now })) {
    await appendAuditEvent(deps.db, {
      action: "token.revoked",
      actor: auditActor(actor),
      realmId: row.realmId,
      targetType: "service_token",
      targetId: row.id,
      data: { name: row.name, prefix: row.prefix },
    });
    return toView({ ...row, revokedAt: now }, now);
  }
  return toView(row, now);
}

/** The live token a bearer secret belongs to, recording its use; null for anything else. */
export async function resolveServiceToken(deps: { db: Db; now?: () => Date }, token: string): Promise<ServiceTokenView | null> {
  if (!TOKEN_PATTERN.test(token)) return null;
  const now = (deps.now ?? (() => new Date()))();
  const row = await findLiveServiceToken(deps.db, { tokenHash: hashToken(token), now });
  if (!row) return null;
  await touchServiceToken(deps.db, { id: row.id, now, granularityMs: LAST_USE_GRANULARITY_MS });
  return toView(row, now);
}
