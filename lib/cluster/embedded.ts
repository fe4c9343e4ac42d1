import type { DatabaseHandle } from "../../db/client";
import type { EvaluatorStore } from "../runtime/evaluators";
import type { FetchLike, McpClientFactory, ModelClient, SecretResolver } from "../runtime/types";
import type { RuntimeStore } from "../runtime/store";
import { createClusterEvaluations } from "./evaluations";
import { createClusterExecutor, type ClusterExecutor } from "./executor";
import { handleDatabase } from "./sql";
import { startWorker, type ClusterWorker } from "./worker";

export interface EmbeddedEngineOptions {
  /** The database this process has open: PGlite, or PostgreSQL. */
  handle: DatabaseHandle;
  store: RuntimeStore;
  model: ModelClient;
  mcp: McpClientFactory;
  secrets: SecretResolver;
  fetch?: FetchLike;
  /** Evaluator loops run after the frames of evaluated loops succeed here. */
  evaluators?: { store: EvaluatorStore };
  /** Steps the in-process worker executes at once. */
  concurrency?: number;
  version?: string;
  /** How long `close()` lets steps in progress finish. */
  shutdownGraceMs?: number;
  log?: (message: string) => void;
}

export interface EmbeddedEngine {
  /** Records runs on the queue and waits for them, as a console does in cluster mode. */
  executor: ClusterExecutor;
  /** The worker inside this process. */
  worker: ClusterWorker;
  /** Stops the worker (steps in progress get the grace period) and the executor. */
  close(): Promise<void>;
}

export const EMBEDDED_WORKER_CONCURRENCY = 16;
const EMBEDDED_SHUTDOWN_GRACE_MS = 10_000;

/**
 * Embedded execution on the cluster engine: the same queue, steps, leases and resumption as a
 * cluster, with the executor and one worker in this process, on this process's own database —
 * PGlite by default. A run is executed exactly as it would be on `loopstacks worker`
 * processes; on PostgreSQL, such workers may join in. A run cut off by a restart is taken up
 * again from its last saved turn once this process is back (the steps of a worker that stopped
 * sending heartbeats are handed to the next one).
 */
export async function startEmbeddedEngine(options: EmbeddedEngineOptions): Promise<EmbeddedEngine> {
  const log = options.log ?? ((message: string) => console.error(`engine: ${message}`));
  const executor = await createClusterExecutor({ handle: options.handle, store: options.store, pollMs: 500, log });
  const evaluations = options.evaluators
    ? createClusterEvaluations({
        db: handleDatabase(options.handle),
        store: options.evaluators.store,
        start: executor.start,
        logger: { error: (message, error) => log(`${message} ${error instanceof Error ? error.message : String(error ?? "")}`) },
      })
    : null;
  let worker: ClusterWorker;
  try {
    worker = await startWorker({
      handle: options.handle,
      model: options.model,
      mcp: options.mcp,
      secrets: options.secrets,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      concurrency: options.concurrency ?? EMBEDDED_WORKER_CONCURRENCY,
      ...(options.version ? { version: options.version } : {}),
      shutdownGraceMs: options.shutdownGraceMs ?? EMBEDDED_SHUTDOWN_GRACE_MS,
      ...(evaluations ? { onFrameSucceeded: evaluations.onFrameSucceeded } : {}),
      log,
    });
  } catch (error) {
    await executor.close();
    throw error;
  }
  return {
    executor,
    worker,
    async close() {
      const graceMs = options.shutdownGraceMs ?? EMBEDDED_SHUTDOWN_GRACE_MS;
      await Promise.all([worker.stop({ graceMs }), evaluations ? within(evaluations.idle(), graceMs) : undefined]);
      await executor.close();
      if (evaluations) await within(evaluations.idle(), 1_000);
    },
  };
}

/** Waits for `promise`, but no longer than `ms`. */
export async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
