import { z } from "zod";
import type { Db } from "../../db/client";
import { appendAuditEvent } from "../../db/queries/audit";
import { upsertIdentity } from "../../db/queries/identities";
import type { Directory } from "../auth/directory";
import {
  checkLoginThrottle,
  DEFAULT_THROTTLE_SETTINGS,
  recordLoginFailure,
  recordLoginSuccess,
  throttleKeys,
  type ThrottleSettings,
} from "../auth/throttle";
import type { Identity } from "../runtime/types";

/**
 * Characters that never belong in a login name: controls (C0, C1), format characters (the bidi
 * marks, embeddings, overrides and isolates among them, U+061C, U+FEFF, zero-width ones), lone
 * surrogates and the line and paragraph separators. They carry injections, and a bidi override
 * shown in the audit log reverses the text around it.
 */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/u;

export const loginSchema = z.object({
  username: z
    .string()
    .max(256)
    // Refused where they are, before the surrounding spaces are trimmed (a trailing newline included).
    .refine((s) => !UNPRINTABLE.test(s), "Username contains invalid characters")
    .trim()
    .min(1, "Enter your username"),
  password: z.string().max(1024),
});
export type LoginInput = z.infer<typeof loginSchema>;

/** Each unprintable character as its escape: \\u0000, or \\u{e0001} beyond the BMP. */
function printable(text: string): string {
  return text.replace(new RegExp(UNPRINTABLE.source, "gu"), (c) => {
    const code = c.codePointAt(0)!;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** What the person is told for a refused login: the same words whatever the reason. */
export const LOGIN_REFUSED_MESSAGE = "Incorrect username or password, or too many attempts. Try again later.";
export const DIRECTORY_UNAVAILABLE_MESSAGE = "The directory cannot be reached. Try again in a moment.";

export type AuthenticateResult =
  | { ok: true; identity: Identity }
  | { ok: false; error: "invalid_credentials" | "throttled" | "directory_unavailable"; message: string };

export interface AuthenticateDeps {
  db: Db;
  directory: Directory;
  now?: () => Date;
  /** Failed-login throttling; defaults apply when absent. */
  throttle?: Partial<ThrottleSettings>;
}

/**
 * Checks a username and password against the directory.
 *
 * Throttling per username and per client address is checked first, so a blocked attempt
 * never reaches the directory. Unknown users and wrong passwords take the same path and get
 * the same answer; a throttled attempt gets the same message too. An empty password is
 * refused before any bind (LDAP servers treat an empty-password bind as an anonymous bind
 * that "succeeds"). Every outcome is audited.
 */
export async function authenticate(
  deps: AuthenticateDeps,
  raw: { username: unknown; password: unknown; clientAddress?: string | null },
): Promise<AuthenticateResult> {
  const now = deps.now ?? (() => new Date());
  const settings = { ...DEFAULT_THROTTLE_SETTINGS, ...deps.throttle };
  const parsed = loginSchema.safeParse({ username: raw.username, password: raw.password });
  // Refused input still names the attempt in the audit log and the throttle, made printable:
  // PostgreSQL text and jsonb cannot hold NUL, and a bidi control would reorder the log's text.
  const username = parsed.success ? parsed.data.username : printable((typeof raw.username === "string" ? raw.username : "").slice(0, 256));
  const clientAddress = raw.clientAddress ?? null;
  const audit = (outcome: "failed" | "denied", reason: string, extra: Record<string, unknown> = {}) =>
    appendAuditEvent(deps.db, {
      action: "login.failed",
      outcome,
      actor: { subject: username || "(empty)", source: deps.directory.kind },
      data: { clientAddress, reason, ...extra },
    });
  const refused = (error: "invalid_credentials" | "throttled"): AuthenticateResult => ({ ok: false, error, message: LOGIN_REFUSED_MESSAGE });

  const keys = throttleKeys(username, clientAddress);
  const throttle = await checkLoginThrottle(deps.db, keys, now());
  if (throttle.blocked) {
    await audit("denied", "throttled", { retryAfterSeconds: throttle.retryAfterSeconds, blockedBy: throttle.keys.map((k) => k.split(":")[0]) });
    return refused("throttled");
  }

  if (!parsed.success || parsed.data.password.length === 0) {
    await recordLoginFailure(deps.db, keys, now(), settings);
    await audit("failed", parsed.success ? "empty_password" : "malformed_input");
    return refused("invalid_credentials");
  }

  const result = await deps.directory.authenticate(parsed.data.username, parsed.data.password);
  if (!result.ok) {
    // The directory being down is not the person's failure and does not count against them.
    if (result.reason === "directory_unavailable") {
      await audit("failed", result.reason);
      return { ok: false, error: "directory_unavailable", message: DIRECTORY_UNAVAILABLE_MESSAGE };
    }
    await recordLoginFailure(deps.db, keys, now(), settings);
    await audit("failed", result.reason);
    return refused("invalid_credentials");
  }

  const { user } = result;
  await recordLoginSuccess(deps.db, keys);
  const canonical = throttleKeys(user.username, clientAddress);
  if (canonical.username !== keys.username) await recordLoginSuccess(deps.db, canonical);
  await upsertIdentity(deps.db, {
    subject: user.username,
    dn: user.dn,
    displayName: user.displayName,
    email: user.email ?? null,
    source: deps.directory.kind,
    groups: user.groups,
    groupsCheckedAt: now(),
    isLogin: true,
  });
  await appendAuditEvent(deps.db, {
    action: "login.succeeded",
    outcome: "ok",
    actor: { subject: user.username, source: deps.directory.kind },
    data: { clientAddress, groups: user.groups },
  });
  return { ok: true, identity: { subject: user.username, displayName: user.displayName, groups: user.groups, kind: "user", source: deps.directory.kind } };
}
