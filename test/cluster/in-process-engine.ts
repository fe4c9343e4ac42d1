import { createClusterExecutor, type ClusterExecutor } from "../../lib/cluster/executor";
import { startWorker, type ClusterWorker } from "../../lib/cluster/worker";
import { createAnthropicModelClient } from "../../lib/runtime/anthropic-model-client";
import { createMcpClientFactory } from "../../lib/runtime/mcp/client-factory";
import type { TestRuntime } from "../runtime-harness";

export interface InProcessEngine {
  worker: ClusterWorker;
  executor: ClusterExecutor;
  close(): Promise<void>;
}

/** The cluster engine as embedded mode runs it: one worker and the executor in this process, on the test runtime's database and scripted model. */
export async function startInProcessEngine(rt: TestRuntime): Promise<InProcessEngine> {
  const worker = await startWorker({
    handle: rt.database,
    model: createAnthropicModelClient({ apiKey: "test", baseURL: rt.model.url }),
    mcp: createMcpClientFactory(),
    concurrency: 4,
    heartbeatMs: 500,
  });
  const executor = await createClusterExecutor({ handle: rt.database, store: rt.store, pollMs: 200 });
  return {
    worker,
    executor,
    async close() {
      await executor.close();
      await worker.stop({ graceMs: 1_000 });
    },
  };
}
