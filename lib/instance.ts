import { join } from "node:path";
import { openDatabase, type DatabaseHandle } from "../db/client";
import { countLoops } from "../db/queries/loops";
import { listStaleRuns, updateRun } from "../db/queries/runs";
import { createDbEvaluatorStore } from "../db/evaluator-store";
import { createDbStore } from "../db/store";
import packageJson from "../package.json";
import { EMBEDDED_SHUTDOWN_GRACE_MS, EMBEDDED_WORKER_CONCURRENCY, startEngine } from "./cluster/embedded";
import { createClusterExecutor } from "./cluster/executor";
import type { Directory } from "./auth/directory";
import { createDevDirectory, ensureDevDirectoryFile } from "./auth/dev-directory";
import { loadLdapConfig } from "./auth/ldap/config";
import { createLdapDirectory } from "./auth/ldap/directory";
import { envSecretResolver, type Config } from "./config";
import { getOrCreateSigningKey, loadOrCreateInstanceSecret, type InstanceSecret } from "./export/signing-keys";
import { AppError } from "./errors";
import { seedDemo } from "./demo/seed";
import { createRuntime, type Runtime } from "./runtime";
import { createHttpClient, createLoopFetch } from "./runtime/http-client";
import { createAnthropicModelClient } from "./runtime/anthropic-model-client";
import { createMcpClientFactory } from "./runtime/mcp/client-factory";
import type { RuntimeStore } from "./runtime/store";
import { createScriptedModelServer, type ScriptedModelServer } from "./scripted-model";

/** One LoopStacks process: database, runtime, directory. Built once per process. */
export interface Instance extends Runtime {
  config: Config;
  database: DatabaseHandle;
  store: RuntimeStore;
  /** `directory.kind` is `dev-directory` while the development directory stands in for LDAP. */
  directory: Directory;
  /** How old a person's stored groups may be before an invocation re-reads them from the directory. */
  groupRecheckSeconds: number;
  /** Decrypts the compliance-bundle signing key. */
  instanceSecret: InstanceSecret;
  /** Present when no model provider is configured: the built-in scripted model. */
  scriptedModel: ScriptedModelServer | null;
  close(): Promise<void>;
}

export interface CreateInstanceOptions {
  /** Apply migrations before anything else (default true). */
  migrate?: boolean;
  /** Seed the demo realm and loops when the database has no loops (default: config.seedDemo). */
  seedDemo?: boolean;
  /** Mark runs left "running" by a previous embedded process as interrupted (default true). */
  recoverInterruptedRuns?: boolean;
  /** Where the directory settings are read from (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Embedded mode: start the engine's worker in this process (default true). A process that only
   * reads or writes definitions (the CLI's `apply`, `export`, the migration before `start`)
   * passes false, so it never takes up steps of runs; its `executor` then runs in-process.
   */
  executesRuns?: boolean;
}

export interface DirectorySelection {
  directory: Directory;
  groupRecheckSeconds: number;
}

/**
 * LDAP when LOOPSTACKS_LDAP_URLS is set, the development directory file otherwise. The
 * development directory is refused in production unless LOOPSTACKS_ALLOW_DEV_DIRECTORY=true:
 * its passwords live in a file on the server and its demo users have well-known passwords.
 */
export function selectDirectory(config: Config, env: Readonly<Record<string, string | undefined>> = process.env): DirectorySelection {
  const issues: { path: string; message: string }[] = [];
  const allowDev = env.LOOPSTACKS_ALLOW_DEV_DIRECTORY ?? "false";
  if (allowDev !== "true" && allowDev !== "false") issues.push({ path: "LOOPSTACKS_ALLOW_DEV_DIRECTORY", message: "must be true or false" });
  const recheck = env.LOOPSTACKS_GROUP_RECHECK_SECONDS?.trim() || "300";
  const groupRecheckSeconds = Number(recheck);
  if (!/^\d+$/.test(recheck) || groupRecheckSeconds > 86_400) {
    issues.push({ path: "LOOPSTACKS_GROUP_RECHECK_SECONDS", message: "must be a whole number of seconds from 0 to 86400" });
  }
  if (issues.length > 0) {
    throw new AppError("invalid_request", `Invalid configuration:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`, { issues });
  }
  const ldap = loadLdapConfig(env);
  if (ldap) return { directory: createLdapDirectory(ldap), groupRecheckSeconds };
  if (config.env === "production" && allowDev !== "true") {
    throw new AppError(
      "invalid_request",
      "The development directory is refused in production (LOOPSTACKS_MODE=production, or NODE_ENV=production when LOOPSTACKS_MODE is unset): configure LDAP with LOOPSTACKS_LDAP_URLS and the other LOOPSTACKS_LDAP_* settings, " +
        "or set LOOPSTACKS_ALLOW_DEV_DIRECTORY=true to run on the development directory anyway.",
      { issues: [{ path: "LOOPSTACKS_LDAP_URLS", message: "required in production" }] },
    );
  }
  const path = join(config.dataDir, "dev-directory.json");
  ensureDevDirectoryFile(path);
  return { directory: createDevDirectory(path), groupRecheckSeconds };
}

export async function createInstance(config: Config, options: CreateInstanceOptions = {}): Promise<Instance> {
  // Checked before the database is opened, so a bad directory setting fails fast and locks nothing.
  const { directory, groupRecheckSeconds } = selectDirectory(config, options.env);
  const database = await openDatabase(config.database.kind === "postgres" ? { url: config.database.url } : { dataDir: config.database.dataDir });
  try {
    if (options.migrate ?? true) await database.migrate();
    let scriptedModel: ScriptedModelServer | null = null;
    let baseURL = config.model.baseURL;
    let apiKey = config.model.apiKey;
    if (config.model.mode === "scripted") {
      scriptedModel = createScriptedModelServer({ latencyMs: config.model.scriptedLatencyMs });
      baseURL = (await scriptedModel.start()).url;
      apiKey = "scripted-model";
    }
    const store = createDbStore(database.db);
    const model = createAnthropicModelClient({ ...(apiKey ? { apiKey } : {}), ...(baseURL ? { baseURL } : {}) });
    const egress = { proxy: config.httpProxy, blockedAddresses: config.httpBlockedAddresses };
    const mcp = createMcpClientFactory({ fetch: createLoopFetch(egress) });
    const http = createHttpClient(egress);
    const evaluators = { store: createDbEvaluatorStore(database.db) };
    const runtime = createRuntime({
      store,
      model,
      mcp,
      http,
      secrets: envSecretResolver(),
      // Otherwise frames succeed on a worker (in this process, or `loopstacks worker`), which runs the evaluators.
      ...(config.execution === "direct" ? { evaluators } : {}),
    });

    if (config.execution === "direct" && database.kind === "pglite" && (options.recoverInterruptedRuns ?? true)) {
      // The direct executor runs everything in this process: a run still "running" was cut off.
      // (On the queue engine, such a run's steps are taken up again instead.)
      for (const { id } of await listStaleRuns(database.db, new Date())) {
        await updateRun(database.db, id, { status: "failed", error: { code: "interrupted", message: "The process running this run stopped before it ended" }, endedAt: new Date() });
      }
    }
    if ((options.seedDemo ?? config.seedDemo) && (await countLoops(database.db, "all")) === 0) {
      await seedDemo(database.db, runtime.registry, { consoleUrl: `http://127.0.0.1:${config.port}` });
    }
    // The bundle signing key exists from the first start, so its public key can be published
    // before anything is exported.
    const instanceSecret: InstanceSecret = config.instanceSecret ?? loadOrCreateInstanceSecret(config.dataDir);
    await getOrCreateSigningKey(database.db, instanceSecret);
    // In cluster mode this process records runs and waits for them; workers execute them.
    const cluster = config.execution === "cluster" ? await createClusterExecutor({ handle: database, store, log: (message) => console.error(message) }) : null;
    // Embedded, the same engine runs here: the executor records runs, a worker in this process executes them.
    const engine =
      config.execution === "embedded" && (options.executesRuns ?? true)
        ? await startEngine({
            handle: database,
            store,
            evaluators,
            worker: {
              model,
              mcp,
              http,
              secrets: envSecretResolver(),
              concurrency: EMBEDDED_WORKER_CONCURRENCY,
              shutdownGraceMs: EMBEDDED_SHUTDOWN_GRACE_MS,
              version: packageJson.version,
            },
          })
        : null;
    const executor = cluster ?? engine?.executor;
    return {
      ...runtime,
      ...(executor ? { executor } : {}),
      instanceSecret,
      config,
      database,
      store,
      directory,
      groupRecheckSeconds,
      scriptedModel,
      async close() {
        await cluster?.close();
        await engine?.close();
        await runtime.close();
        await directory.close?.();
        await scriptedModel?.close();
        await database.close();
      },
    };
  } catch (error) {
    await database.close().catch(() => {});
    throw error;
  }
}
