/**
 * Cluster mode: runs execute as steps on worker processes that share one PostgreSQL database.
 * See ./README.md for how a run flows through the queue.
 */
export { createClusterExecutor, type ClusterExecutor, type ClusterExecutorOptions } from "./executor";
export { startEngine, type Engine, type EngineOptions } from "./embedded";
export { startWorker, type ClusterWorker, type WorkerOptions, type WorkerStats } from "./worker";
export type { ClusterLimits } from "./limits";
export { DEAD_LETTER_QUEUE, STEP_QUEUE } from "./queue";
