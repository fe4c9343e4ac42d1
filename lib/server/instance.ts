import { loadConfig } from "../config";
import { createInstance, type Instance } from "../instance";

/**
 * The one LoopStacks instance of this Next.js server process. The promise lives on
 * `globalThis` because Next may evaluate this module more than once (separate bundles for
 * pages and route handlers, hot reload in development), and embedded mode allows exactly one
 * open database per data directory.
 */
const INSTANCE_KEY = Symbol.for("loopstacks.instance");

type InstanceHolder = typeof globalThis & { [INSTANCE_KEY]?: Promise<Instance> };

export function getInstance(): Promise<Instance> {
  const holder = globalThis as InstanceHolder;
  let pending = holder[INSTANCE_KEY];
  if (!pending) {
    pending = createInstance(loadConfig());
    holder[INSTANCE_KEY] = pending;
    // A failed start (bad configuration, locked data directory) is retried on the next request.
    pending.catch((error: unknown) => {
      if (holder[INSTANCE_KEY] === pending) delete holder[INSTANCE_KEY];
      console.error("LoopStacks failed to start:", error instanceof Error ? error.message : error);
    });
    closeOnSignals(pending);
  }
  return pending;
}

function closeOnSignals(pending: Promise<Instance>): void {
  let closing = false;
  const close = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    // Running runs are drained and the embedded database is flushed before the process exits.
    pending
      .then((instance) => instance.close())
      .catch((error: unknown) => console.error("LoopStacks did not close cleanly:", error))
      .finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGTERM", close);
  process.once("SIGINT", close);
}
