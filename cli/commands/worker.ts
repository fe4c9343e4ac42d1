import type { Command } from "commander";
import { z } from "zod";
import { openDatabase } from "../../db/client";
import { createDbEvaluatorStore } from "../../db/evaluator-store";
import { createDbStore } from "../../db/store";
import { envSecretResolver, loadConfig } from "../../lib/config";
import { AppError } from "../../lib/errors";
import packageJson from "../../package.json";
import { startEngine, type ClusterLimits } from "../../lib/cluster";
import { createHttpClient, createLoopFetch } from "../../lib/runtime/http-client";
import { createAnthropicModelClient } from "../../lib/runtime/anthropic-model-client";
import { createMcpClientFactory } from "../../lib/runtime/mcp/client-factory";
import { createScriptedModelServer, type ScriptedModelServer } from "../../lib/scripted-model";

const positiveInt = z.coerce.number().int().min(1).max(10_000);

/** `LOOPSTACKS_WORKER_LIMITS`: give every worker of a cluster the same value. */
const limitsSchema = z
  .object({
    loops: z.record(z.string(), positiveInt).optional(),
    realms: z.record(z.string(), positiveInt).optional(),
    modelRequestsPerMinute: z.record(z.string(), positiveInt).optional(),
  })
  .strict();

const workerEnvSchema = z
  .object({
    LOOPSTACKS_WORKER_CONCURRENCY: positiveInt.optional(),
    LOOPSTACKS_WORKER_POOL_SIZE: z.coerce.number().int().min(2).max(200).optional(),
    LOOPSTACKS_WORKER_LIMITS: z.string().optional(),
    LOOPSTACKS_WORKER_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).optional(),
    LOOPSTACKS_WORKER_SUPERVISE_SECONDS: z.coerce.number().int().min(1).max(3_600).optional(),
  })
  .loose();

function parseLimits(text: string | undefined): ClusterLimits {
  if (!text) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new AppError("invalid_request", `LOOPSTACKS_WORKER_LIMITS is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = limitsSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: `LOOPSTACKS_WORKER_LIMITS.${i.path.join(".")}`, message: i.message }));
    throw new AppError("invalid_request", "Invalid LOOPSTACKS_WORKER_LIMITS", { issues });
  }
  return parsed.data;
}

export function register(program: Command): void {
  program
    .command("worker")
    .description("Execute runs in cluster mode: pull steps from the PostgreSQL queue at DATABASE_URL until stopped (SIGTERM or SIGINT)")
    .option("-c, --concurrency <n>", "steps this worker executes at once (default: LOOPSTACKS_WORKER_CONCURRENCY or 10)")
    .option("--id <id>", "the worker's name in the registry (default: host, pid and a random suffix)")
    .action(async (options: { concurrency?: string; id?: string }) => {
      const config = loadConfig();
      if (config.database.kind !== "postgres") {
        throw new AppError(
          "invalid_request",
          "loopstacks worker needs DATABASE_URL (postgres://…): workers share one PostgreSQL database with the console. " +
            "Embedded mode (no DATABASE_URL) runs loops inside the `loopstacks start` process and needs no worker.",
        );
      }
      const env = workerEnvSchema.parse(process.env);
      const concurrency = options.concurrency === undefined ? (env.LOOPSTACKS_WORKER_CONCURRENCY ?? 10) : positiveInt.safeParse(options.concurrency).data;
      if (concurrency === undefined) throw new AppError("invalid_request", `--concurrency must be a whole number from 1 to 10000, not "${options.concurrency}"`);
      const limits = parseLimits(env.LOOPSTACKS_WORKER_LIMITS);

      let scripted: ScriptedModelServer | null = null;
      let { baseURL, apiKey } = config.model;
      if (config.model.mode === "scripted") {
        scripted = createScriptedModelServer({ latencyMs: config.model.scriptedLatencyMs });
        baseURL = (await scripted.start()).url;
        apiKey = "scripted-model";
      }
      // Evaluator loops run here, not on the console: each evaluation is a cluster run this
      // worker starts (on connections of its own) when a frame of an evaluated loop succeeds here.
      const evaluationDatabase = await openDatabase({ url: config.database.url, poolSize: 4 });
      const egress = { proxy: config.httpProxy, blockedAddresses: config.httpBlockedAddresses };
      const mcp = createMcpClientFactory({ fetch: createLoopFetch(egress) });
      const engine = await startEngine({
        handle: evaluationDatabase,
        store: createDbStore(evaluationDatabase.db),
        evaluators: { store: createDbEvaluatorStore(evaluationDatabase.db) },
        log: (message) => console.error(`worker: ${message}`),
        worker: {
          databaseUrl: config.database.url,
          model: createAnthropicModelClient({ ...(apiKey ? { apiKey } : {}), ...(baseURL ? { baseURL } : {}) }),
          mcp,
          http: createHttpClient(egress),
          secrets: envSecretResolver(),
          concurrency,
          ...(env.LOOPSTACKS_WORKER_POOL_SIZE !== undefined ? { poolSize: env.LOOPSTACKS_WORKER_POOL_SIZE } : {}),
          ...(options.id ? { workerId: options.id } : {}),
          version: packageJson.version,
          limits,
          ...(env.LOOPSTACKS_WORKER_SHUTDOWN_GRACE_MS !== undefined ? { shutdownGraceMs: env.LOOPSTACKS_WORKER_SHUTDOWN_GRACE_MS } : {}),
          ...(env.LOOPSTACKS_WORKER_SUPERVISE_SECONDS !== undefined ? { superviseIntervalSeconds: env.LOOPSTACKS_WORKER_SUPERVISE_SECONDS } : {}),
        },
      }).catch(async (error: unknown) => {
        // Nothing may keep the process alive after a failed start.
        await evaluationDatabase.close();
        await mcp.close();
        await scripted?.close();
        throw error;
      });
      const { worker } = engine;
      console.log(`LoopStacks worker ${worker.id} started: concurrency ${concurrency}, database ${redact(config.database.url)}`);
      console.log(`Model: ${scripted ? "built-in scripted model (demo answers; set ANTHROPIC_API_KEY for a real model)" : config.model.mode}`);

      await new Promise<void>((resolve) => {
        const onSignal = (signal: NodeJS.Signals) => {
          process.off("SIGTERM", onSignal);
          process.off("SIGINT", onSignal);
          console.log(`Received ${signal}: finishing the steps in progress, taking no new ones…`);
          resolve();
        };
        process.on("SIGTERM", onSignal);
        process.on("SIGINT", onSignal);
      });
      await engine.close();
      await evaluationDatabase.close();
      await mcp.close();
      await scripted?.close();
      const stats = worker.stats();
      console.log(`LoopStacks worker ${stats.id} stopped after ${stats.processed} steps (${stats.fetched} taken in ${stats.fetches} fetches, ${stats.failed} failed)`);
    });
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable url)";
  }
}
