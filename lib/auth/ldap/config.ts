import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import { Filter, FilterParser } from "ldapts";
import { z } from "zod";
import { AppError, type AppErrorIssue } from "../../errors";

/**
 * LDAP settings, read from `LOOPSTACKS_LDAP_*` (see README.md in this folder). The same knobs
 * Grafana, GitLab and Vault expose, validated once at start so a typo fails loudly there
 * rather than at the first login.
 */

/** Active Directory's LDAP_MATCHING_RULE_IN_CHAIN: one search returns every nested group. */
export const AD_IN_CHAIN_RULE = "1.2.840.113556.1.4.1941";

/** A value that never prints: not in logs, JSON, `console.log` or error messages. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return "[redacted]";
  }
  toJSON(): string {
    return "[redacted]";
  }
  [inspect.custom](): string {
    return "[redacted]";
  }
}

export type LdapSecurity = "ldaps" | "starttls" | "plain";

export interface LdapServer {
  url: string;
  host: string;
  security: LdapSecurity;
}

export type GroupMembership = "memberof" | "search";
export type NestedGroups = "none" | "in-chain" | "recursive";

export interface LdapConfig {
  /** Tried in order; the next one is used when a server cannot be reached or does not answer. */
  servers: LdapServer[];
  /** PEM CA certificates trusted for ldaps:// and StartTLS; absent means the system store. */
  ca?: string;
  /** The search bind; absent means searching anonymously. */
  bind?: { dn: string; password: Secret };
  users: {
    baseDn: string;
    /** Contains `{username}`, replaced by the escaped login name. */
    filter: string;
    usernameAttribute: string;
    displayNameAttribute: string;
    emailAttribute: string;
  };
  groups: {
    membership: GroupMembership;
    memberOfAttribute: string;
    baseDn?: string;
    /** Contains `{dn}` (the escaped member DN) and/or `{username}`. */
    filter: string;
    nested: NestedGroups;
    maxDepth: number;
  };
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  pageSize: number;
}

const boolean = z.enum(["true", "false"], { error: "must be true or false" });
const dn = z.string().trim().min(1, "must be a DN such as ou=people,dc=example,dc=org").regex(/=/, "must be a DN such as ou=people,dc=example,dc=org");
const attribute = z.string().trim().regex(/^[A-Za-z][A-Za-z0-9-]*$|^\d+(\.\d+)+$/, "must be an attribute name such as uid");
const millis = (fallback: number) => z.coerce.number({ error: "must be a number of milliseconds" }).int().min(100).max(120_000).default(fallback);

const envSchema = z.object({
  LOOPSTACKS_LDAP_URLS: z.string().trim().min(1, "must list at least one ldap:// or ldaps:// URL"),
  LOOPSTACKS_LDAP_START_TLS: boolean.default("false"),
  LOOPSTACKS_LDAP_INSECURE: boolean.default("false"),
  LOOPSTACKS_LDAP_CA_FILE: z.string().trim().min(1).optional(),
  LOOPSTACKS_LDAP_BIND_DN: dn.optional(),
  LOOPSTACKS_LDAP_BIND_PASSWORD: z.string().min(1).optional(),
  LOOPSTACKS_LDAP_BIND_PASSWORD_FILE: z.string().trim().min(1).optional(),
  LOOPSTACKS_LDAP_USER_BASE_DN: dn,
  LOOPSTACKS_LDAP_USER_FILTER: z.string().trim().default("(uid={username})"),
  LOOPSTACKS_LDAP_USERNAME_ATTRIBUTE: attribute.default("uid"),
  LOOPSTACKS_LDAP_DISPLAY_NAME_ATTRIBUTE: attribute.default("cn"),
  LOOPSTACKS_LDAP_EMAIL_ATTRIBUTE: attribute.default("mail"),
  LOOPSTACKS_LDAP_GROUP_MEMBERSHIP: z.enum(["memberof", "search"], { error: "must be memberof or search" }).default("memberof"),
  LOOPSTACKS_LDAP_MEMBER_OF_ATTRIBUTE: attribute.default("memberOf"),
  LOOPSTACKS_LDAP_GROUP_BASE_DN: dn.optional(),
  LOOPSTACKS_LDAP_GROUP_FILTER: z.string().trim().min(1).optional(),
  LOOPSTACKS_LDAP_NESTED_GROUPS: z.enum(["none", "in-chain", "recursive"], { error: "must be none, in-chain or recursive" }).default("none"),
  LOOPSTACKS_LDAP_NESTED_GROUPS_MAX_DEPTH: z.coerce.number({ error: "must be a whole number" }).int().min(1).max(20).default(5),
  LOOPSTACKS_LDAP_CONNECT_TIMEOUT_MS: millis(5_000),
  LOOPSTACKS_LDAP_TIMEOUT_MS: millis(10_000),
  LOOPSTACKS_LDAP_PAGE_SIZE: z.coerce.number({ error: "must be a whole number" }).int().min(1).max(10_000).default(500),
});

/** True when the environment asks for LDAP (LOOPSTACKS_LDAP_URLS is set and not empty). */
export function isLdapConfigured(env: Readonly<Record<string, string | undefined>>): boolean {
  return Boolean(env.LOOPSTACKS_LDAP_URLS?.trim());
}

/** Substitutes values into a filter template, each escaped with ldapts (RFC 4515). */
export function fillFilter(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(values, name) ? Filter.escape(values[name]!) : whole));
}

function checkFilter(template: string, placeholders: readonly string[], required: readonly string[]): string | null {
  if (!required.some((p) => template.includes(`{${p}}`))) return `must contain ${required.map((p) => `{${p}}`).join(" or ")}`;
  const unknown = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).filter((p) => !placeholders.includes(p));
  if (unknown.length > 0) return `unknown placeholder {${unknown[0]}}; use ${placeholders.map((p) => `{${p}}`).join(" or ")}`;
  try {
    FilterParser.parseString(fillFilter(template, Object.fromEntries(placeholders.map((p) => [p, "x"]))));
  } catch (error) {
    return `is not a valid LDAP filter (${error instanceof Error ? error.message : String(error)})`;
  }
  return null;
}

function parseServers(raw: string, startTls: boolean, insecure: boolean, issues: AppErrorIssue[]): LdapServer[] {
  const servers: LdapServer[] = [];
  for (const url of raw.split(/[\s,]+/).filter(Boolean)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      issues.push({ path: "LOOPSTACKS_LDAP_URLS", message: `${url} is not a URL` });
      continue;
    }
    if (parsed.protocol !== "ldap:" && parsed.protocol !== "ldaps:") {
      issues.push({ path: "LOOPSTACKS_LDAP_URLS", message: `${url} must start with ldap:// or ldaps://` });
      continue;
    }
    if (!parsed.hostname) {
      issues.push({ path: "LOOPSTACKS_LDAP_URLS", message: `${url} has no host` });
      continue;
    }
    const security: LdapSecurity = parsed.protocol === "ldaps:" ? "ldaps" : startTls ? "starttls" : "plain";
    if (security === "plain" && !insecure) {
      issues.push({
        path: "LOOPSTACKS_LDAP_URLS",
        message: `${url} would send passwords unencrypted; use ldaps://, set LOOPSTACKS_LDAP_START_TLS=true, or (development only) LOOPSTACKS_LDAP_INSECURE=true`,
      });
      continue;
    }
    const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
    servers.push({ url: `${parsed.protocol}//${parsed.host}`, host, security });
  }
  return servers;
}

function readFile(path: string, variable: string, issues: AppErrorIssue[]): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    issues.push({ path: variable, message: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` });
    return undefined;
  }
}

/**
 * The LDAP configuration from the environment, or null when LOOPSTACKS_LDAP_URLS is unset.
 * Throws one `invalid_request` error listing every bad variable by name.
 */
export function loadLdapConfig(env: Readonly<Record<string, string | undefined>>): LdapConfig | null {
  if (!isLdapConfigured(env)) return null;
  const fail = (issues: AppErrorIssue[]): never => {
    throw new AppError("invalid_request", `Invalid LDAP configuration:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`, { issues });
  };
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) fail(parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })));
  const c = parsed.data!;
  const issues: AppErrorIssue[] = [];

  const servers = parseServers(c.LOOPSTACKS_LDAP_URLS, c.LOOPSTACKS_LDAP_START_TLS === "true", c.LOOPSTACKS_LDAP_INSECURE === "true", issues);
  if (servers.length === 0 && issues.length === 0) issues.push({ path: "LOOPSTACKS_LDAP_URLS", message: "must list at least one ldap:// or ldaps:// URL" });

  let ca: string | undefined;
  if (c.LOOPSTACKS_LDAP_CA_FILE) {
    ca = readFile(c.LOOPSTACKS_LDAP_CA_FILE, "LOOPSTACKS_LDAP_CA_FILE", issues);
    if (ca !== undefined && !ca.includes("-----BEGIN CERTIFICATE-----")) {
      issues.push({ path: "LOOPSTACKS_LDAP_CA_FILE", message: `${c.LOOPSTACKS_LDAP_CA_FILE} holds no PEM certificate` });
    }
  }

  let bind: LdapConfig["bind"];
  const passwordFile = c.LOOPSTACKS_LDAP_BIND_PASSWORD_FILE;
  if (c.LOOPSTACKS_LDAP_BIND_PASSWORD && passwordFile) {
    issues.push({ path: "LOOPSTACKS_LDAP_BIND_PASSWORD_FILE", message: "set either LOOPSTACKS_LDAP_BIND_PASSWORD or LOOPSTACKS_LDAP_BIND_PASSWORD_FILE, not both" });
  } else if (c.LOOPSTACKS_LDAP_BIND_DN) {
    // Files written by editors and secret stores usually end with a newline that is not part of the password.
    const password = passwordFile ? readFile(passwordFile, "LOOPSTACKS_LDAP_BIND_PASSWORD_FILE", issues)?.replace(/\r?\n$/, "") : c.LOOPSTACKS_LDAP_BIND_PASSWORD;
    if (password) bind = { dn: c.LOOPSTACKS_LDAP_BIND_DN, password: new Secret(password) };
    // An empty password would turn the search bind into an anonymous bind that the server may accept.
    else if (password === "") issues.push({ path: "LOOPSTACKS_LDAP_BIND_PASSWORD_FILE", message: `${passwordFile} is empty` });
    else if (!passwordFile) issues.push({ path: "LOOPSTACKS_LDAP_BIND_PASSWORD", message: "required with LOOPSTACKS_LDAP_BIND_DN (or LOOPSTACKS_LDAP_BIND_PASSWORD_FILE)" });
  } else if (c.LOOPSTACKS_LDAP_BIND_PASSWORD || passwordFile) {
    issues.push({ path: "LOOPSTACKS_LDAP_BIND_DN", message: "required when a bind password is set" });
  }

  const userFilterProblem = checkFilter(c.LOOPSTACKS_LDAP_USER_FILTER, ["username"], ["username"]);
  if (userFilterProblem) issues.push({ path: "LOOPSTACKS_LDAP_USER_FILTER", message: userFilterProblem });

  const nested = c.LOOPSTACKS_LDAP_NESTED_GROUPS;
  const searchesGroups = c.LOOPSTACKS_LDAP_GROUP_MEMBERSHIP === "search" || nested === "in-chain";
  const groupFilter = c.LOOPSTACKS_LDAP_GROUP_FILTER ?? (nested === "in-chain" ? `(member:${AD_IN_CHAIN_RULE}:={dn})` : "(member={dn})");
  if (searchesGroups && !c.LOOPSTACKS_LDAP_GROUP_BASE_DN) {
    issues.push({
      path: "LOOPSTACKS_LDAP_GROUP_BASE_DN",
      message: nested === "in-chain" ? "required with LOOPSTACKS_LDAP_NESTED_GROUPS=in-chain" : "required with LOOPSTACKS_LDAP_GROUP_MEMBERSHIP=search",
    });
  }
  if (nested === "recursive" && c.LOOPSTACKS_LDAP_GROUP_MEMBERSHIP === "search" && !groupFilter.includes("{dn}")) {
    issues.push({ path: "LOOPSTACKS_LDAP_GROUP_FILTER", message: "must contain {dn} to resolve nested groups recursively" });
  }
  const groupFilterProblem = checkFilter(groupFilter, ["dn", "username"], ["dn", "username"]);
  if (groupFilterProblem) issues.push({ path: "LOOPSTACKS_LDAP_GROUP_FILTER", message: groupFilterProblem });

  if (issues.length > 0) fail(issues);
  return {
    servers,
    ...(ca !== undefined ? { ca } : {}),
    ...(bind ? { bind } : {}),
    users: {
      baseDn: c.LOOPSTACKS_LDAP_USER_BASE_DN,
      filter: c.LOOPSTACKS_LDAP_USER_FILTER,
      usernameAttribute: c.LOOPSTACKS_LDAP_USERNAME_ATTRIBUTE,
      displayNameAttribute: c.LOOPSTACKS_LDAP_DISPLAY_NAME_ATTRIBUTE,
      emailAttribute: c.LOOPSTACKS_LDAP_EMAIL_ATTRIBUTE,
    },
    groups: {
      membership: c.LOOPSTACKS_LDAP_GROUP_MEMBERSHIP,
      memberOfAttribute: c.LOOPSTACKS_LDAP_MEMBER_OF_ATTRIBUTE,
      ...(c.LOOPSTACKS_LDAP_GROUP_BASE_DN ? { baseDn: c.LOOPSTACKS_LDAP_GROUP_BASE_DN } : {}),
      filter: groupFilter,
      nested,
      maxDepth: c.LOOPSTACKS_LDAP_NESTED_GROUPS_MAX_DEPTH,
    },
    connectTimeoutMs: c.LOOPSTACKS_LDAP_CONNECT_TIMEOUT_MS,
    requestTimeoutMs: c.LOOPSTACKS_LDAP_TIMEOUT_MS,
    pageSize: c.LOOPSTACKS_LDAP_PAGE_SIZE,
  };
}
