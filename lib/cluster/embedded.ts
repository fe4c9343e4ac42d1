import type { DatabaseHandle } from "../../db/client";
import type { EvaluatorStore } from "../runtime/evaluators";
import type { RuntimeStore } from "../runtime/store";
import { createClusterEvaluations } from "./evaluations";
import { createClusterExecutor, type ClusterExecutor } from "./executor";
import { handleDatabase } from "./sql";
import { DEFAULT_SHUTDOWN_GRACE_MS, startWorker, type ClusterWorker, type WorkerOptions } from "./worker";

export interface EngineOptions {
  /** Where the executor records runs, and the evaluations the worker starts are read and scored. */
  handle: DatabaseHandle;
  store: RuntimeStore;
  /** The worker; without `databaseUrl` it shares `handle`. */
  worker: Omit<WorkerOptions, "handle" | "onFrameSucceeded" | "log">;
  /** Evaluator loops run after the frames of evaluated loops succeed on the worker. */
  evaluators?: { store: EvaluatorStore };
  log?: (message: string) => void;
}

export interface Engine {
  /** Records runs on the queue and waits for them, as a console does in cluster mode. */
  executor: ClusterExecutor;
  worker: ClusterWorker;
  /** Stops the worker (steps and evaluations in progress get its shutdown grace), then the executor. */
  close(): Promise<void>;
}

/** Steps the worker inside a console process executes at once. */
export const EMBEDDED_WORKER_CONCURRENCY = 16;
/** How long a console process lets its worker's steps finish when it stops. */
export const EMBEDDED_SHUTDOWN_GRACE_MS = 10_000;

/**
 * A worker with an executor beside it, for the evaluations it starts as runs of their own. Both
 * `loopstacks worker` and embedded mode run this: embedded, the executor and worker share the
 * console process's database (PGlite by default), and a run is executed exactly as on a cluster.
 * A run cut off by a restart is taken up again from its last saved turn once a worker is back
 * (the steps of a worker that stopped sending heartbeats are handed to the next one).
 */
export async function startEngine(options: EngineOptions): Promise<Engine> {
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
      ...(options.worker.databaseUrl ? {} : { handle: options.handle }),
      ...options.worker,
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
      const graceMs = options.worker.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
      // Evaluations in flight are runs like any other: they get the same grace to end and be scored.
      await Promise.all([worker.stop({ graceMs }), evaluations ? within(evaluations.idle(), graceMs) : undefined]);
      await executor.close();
      // Closing rejected the evaluations still waiting; they give up (with a log line) at once.
      if (evaluations) await within(evaluations.idle(), 1_000);
    },
  };
}

/** Waits for `promise`, but no longer than `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
