import { randomBytes, scryptSync, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { normalizeDn } from "../../db/queries/realms";
import { AppError } from "../errors";
import type { AuthenticationResult, Directory, DirectoryUser } from "./directory";

/**
 * The development directory: a JSON file of users, scrypt password hashes and groups that
 * stands in for LDAP on an embedded install. Refused in production unless explicitly enabled.
 */
const devDirectorySchema = z.object({
  warning: z.string().optional(),
  users: z.array(
    z.object({
      username: z.string().min(1).max(100),
      displayName: z.string().default(""),
      email: z.string().optional(),
      /** `scrypt$<salt hex>$<hash hex>` */
      password: z.string().regex(/^scrypt\$[0-9a-f]+\$[0-9a-f]+$/, "must be scrypt$<salt>$<hash>; use `loopstacks dev-directory hash`"),
      groups: z.array(z.string().min(1)).default([]),
    }),
  ),
});
export type DevDirectoryFile = z.infer<typeof devDirectorySchema>;

export const DEV_BASE_DN = "dc=loopstacks,dc=dev";
export const devGroupDn = (cn: string) => `cn=${cn},ou=groups,${DEV_BASE_DN}`;

/** Demo people, documented in the README; every one of them is a member of exactly one group. */
export const DEMO_USERS = [
  { username: "ada", displayName: "Ada Admin", group: "loopstacks-admins", role: "admin" },
  { username: "mo", displayName: "Mo Maintainer", group: "demo-maintainers", role: "maintainer" },
  { username: "alice", displayName: "Alice Operator", group: "demo-operators", role: "operator" },
  { username: "otto", displayName: "Otto Auditor", group: "demo-auditors", role: "auditor" },
  { username: "vic", displayName: "Vic Viewer", group: "demo-viewers", role: "viewer" },
] as const;

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString("hex")}$${scryptSync(password, salt, 32).toString("hex")}`;
}

function verifyPassword(password: string, stored: string): boolean {
  const [, saltHex, hashHex] = stored.split("$");
  const expected = Buffer.from(hashHex ?? "", "hex");
  const actual = scryptSync(password, Buffer.from(saltHex ?? "", "hex"), expected.length || 32);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** A dummy hash so that unknown users cost the same scrypt work as known ones. */
const DUMMY_HASH = hashPassword(randomBytes(8).toString("hex"));

/** Writes the demo directory file if none exists; each demo user's password is their username. */
export function ensureDevDirectoryFile(path: string): void {
  if (existsSync(path)) return;
  mkdirSync(dirname(path), { recursive: true });
  const file: DevDirectoryFile = {
    warning: "DEVELOPMENT DIRECTORY — stands in for LDAP on an embedded install. Never use in production.",
    users: DEMO_USERS.map((u) => ({ username: u.username, displayName: u.displayName, password: hashPassword(u.username), groups: [devGroupDn(u.group)] })),
  };
  writeFileSync(path, JSON.stringify(file, null, 2) + "\n", { mode: 0o600 });
}

export function createDevDirectory(path: string): Directory {
  const load = (): DevDirectoryFile => {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, "utf8"));
    } catch (error) {
      throw new AppError("unavailable", `Cannot read the development directory ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const parsed = devDirectorySchema.safeParse(raw);
    if (!parsed.success) {
      throw new AppError("invalid_request", `Invalid development directory ${path}:\n${parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`).join("\n")}`);
    }
    return parsed.data;
  };
  const toUser = (u: DevDirectoryFile["users"][number]): DirectoryUser => ({
    username: u.username,
    dn: `uid=${u.username},ou=people,${DEV_BASE_DN}`,
    displayName: u.displayName || u.username,
    ...(u.email ? { email: u.email } : {}),
    groups: u.groups.map(normalizeDn),
  });
  return {
    kind: "dev-directory",
    async authenticate(username, password): Promise<AuthenticationResult> {
      const entry = load().users.find((u) => u.username === username);
      const matches = verifyPassword(password, entry?.password ?? DUMMY_HASH);
      return entry && matches ? { ok: true, user: toUser(entry) } : { ok: false, reason: "invalid_credentials" };
    },
    async lookup(username) {
      const entry = load().users.find((u) => u.username === username);
      return entry ? toUser(entry) : null;
    },
  };
}
