import { resolve } from "node:path";
import { z } from "zod";
import type { Env } from "./env";
import { AppError } from "./errors";
import { parseAddressList, type AddressList } from "./address-list.mjs";
import { DEFAULT_BLOCKED_ADDRESSES, proxySettingsFrom, type HttpProxySettings } from "./runtime/http-client";
import type { SecretResolver } from "./runtime/types";

const configSchema = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
    /** The operator's declaration; NODE_ENV alone cannot say it, since serving a build always sets it. */
    LOOPSTACKS_MODE: z.enum(["development", "production"]).optional(),
    DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL").optional(),
    LOOPSTACKS_DATA_DIR: z.string().min(1).default(".data"),
    ANTHROPIC_API_KEY: z.string().min(1).optional(),
    ANTHROPIC_BASE_URL: z.url().optional(),
    LOOPSTACKS_SCRIPTED_MODEL_LATENCY_MS: z.coerce.number().int().min(0).max(60_000).default(0),
    LOOPSTACKS_SEED_DEMO: z.enum(["true", "false"]).default("true"),
    /**
     * `embedded`: the cluster engine with one worker inside this process; `cluster`: runs execute
     * on `loopstacks worker` processes and this process only records and waits; `direct`: the
     * runtime's executor in this process, without a queue.
     */
    LOOPSTACKS_EXECUTION: z.enum(["embedded", "cluster", "direct"]).default("embedded"),
    PORT: z.coerce.number().int().min(1).max(65_535).default(3000),
    /** Shared by every process of a cluster so each can sign with the one signing key. */
    LOOPSTACKS_INSTANCE_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  })
  .loose();

export type ModelMode = "anthropic" | "custom-endpoint" | "scripted";

export interface Config {
  env: "development" | "production" | "test";
  database: { kind: "postgres"; url: string } | { kind: "pglite"; dataDir: string };
  dataDir: string;
  /**
   * `anthropic`: the real API (key, no base URL); `custom-endpoint`: ANTHROPIC_BASE_URL;
   * `scripted`: no key and no URL — the built-in scripted model, clearly labelled everywhere.
   */
  model: { mode: ModelMode; apiKey?: string; baseURL?: string; scriptedLatencyMs: number };
  seedDemo: boolean;
  /**
   * Where runs execute: on the queue engine with a worker in this process (`embedded`), on
   * cluster workers over PostgreSQL (`cluster`), or straight in this process (`direct`).
   */
  execution: "embedded" | "cluster" | "direct";
  port: number;
  /** Encrypts the bundle signing keys at rest; absent: `<dataDir>/instance.key`. */
  instanceSecret?: string;
  /** The proxy HTTP loops go through (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`); null for none. */
  httpProxy: HttpProxySettings | null;
  /** Addresses HTTP loops and MCP servers over HTTP may not reach (`LOOPSTACKS_HTTP_BLOCKED_ADDRESSES`; link-local and cloud metadata by default). */
  httpBlockedAddresses: AddressList;
}

/** A configuration error about one variable, worded as the schema's are. */
function configError(path: string, message: string): AppError {
  return new AppError("invalid_request", `Invalid configuration:\n  ${path}: ${message}`, { issues: [{ path, message }] });
}

/** Reads and validates the environment once; a bad value names its variable. */
export function loadConfig(env: Env = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
    throw new AppError("invalid_request", `Invalid configuration:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`, { issues });
  }
  const c = parsed.data;
  if (c.LOOPSTACKS_EXECUTION === "cluster" && !c.DATABASE_URL) {
    throw configError("LOOPSTACKS_EXECUTION", "cluster execution needs DATABASE_URL: workers and consoles share one PostgreSQL");
  }
  const httpProxy = proxySettingsFrom(env);
  for (const [name, value] of [["HTTP_PROXY", httpProxy?.httpProxy], ["HTTPS_PROXY", httpProxy?.httpsProxy]] as const) {
    if (value !== undefined && !/^https?:$/.test(URL.parse(value)?.protocol ?? "")) throw configError(name, "must be an http:// or https:// URL of the proxy");
  }
  let httpBlockedAddresses: AddressList;
  try {
    httpBlockedAddresses = parseAddressList(env.LOOPSTACKS_HTTP_BLOCKED_ADDRESSES ?? DEFAULT_BLOCKED_ADDRESSES);
  } catch (error) {
    throw configError("LOOPSTACKS_HTTP_BLOCKED_ADDRESSES", (error as Error).message);
  }
  const dataDir = resolve(c.LOOPSTACKS_DATA_DIR);
  const mode: ModelMode = c.ANTHROPIC_BASE_URL ? "custom-endpoint" : c.ANTHROPIC_API_KEY ? "anthropic" : "scripted";
  return {
    env: c.LOOPSTACKS_MODE ?? c.NODE_ENV,
    database: c.DATABASE_URL ? { kind: "postgres", url: c.DATABASE_URL } : { kind: "pglite", dataDir: resolve(dataDir, "pglite") },
    dataDir,
    model: {
      mode,
      ...(c.ANTHROPIC_API_KEY ? { apiKey: c.ANTHROPIC_API_KEY } : {}),
      ...(c.ANTHROPIC_BASE_URL ? { baseURL: c.ANTHROPIC_BASE_URL } : {}),
      scriptedLatencyMs: c.LOOPSTACKS_SCRIPTED_MODEL_LATENCY_MS,
    },
    seedDemo: c.LOOPSTACKS_SEED_DEMO === "true",
    execution: c.LOOPSTACKS_EXECUTION,
    port: c.PORT,
    ...(c.LOOPSTACKS_INSTANCE_SECRET ? { instanceSecret: c.LOOPSTACKS_INSTANCE_SECRET } : {}),
    httpProxy,
    httpBlockedAddresses,
  };
}

/**
 * `{ secret: "NAME" }` in a loop definition resolves to `LOOPSTACKS_SECRET_NAME`, for loops of
 * the realms listed in `LOOPSTACKS_SECRET_NAME_REALMS` (comma-separated realm ids, or `*` for
 * every realm); without that list, for none. The prefix keeps a definition from reading the
 * process's own credentials (DATABASE_URL, API keys); the list keeps the maintainers of one
 * realm from sending another realm's secret to a server of their choosing.
 */
export function envSecretResolver(env: Env = process.env): SecretResolver {
  return {
    resolve(name, realm) {
      if (name.endsWith(SECRET_REALMS_SUFFIX)) return undefined;
      const realms = (env[`LOOPSTACKS_SECRET_${name}${SECRET_REALMS_SUFFIX}`] ?? "").split(",").map((r) => r.trim());
      return realms.includes("*") || realms.includes(realm) ? env[`LOOPSTACKS_SECRET_${name}`] : undefined;
    },
  };
}

/** `LOOPSTACKS_SECRET_<NAME>_REALMS` lists the realms that may use the secret `<NAME>`; it is not a secret itself. */
const SECRET_REALMS_SUFFIX = "_REALMS";
