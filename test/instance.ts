import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DatabaseKind } from "../db/client";
import { createDevDirectory, ensureDevDirectoryFile } from "../lib/auth/dev-directory";
import { loadConfig } from "../lib/config";
import { loadOrCreateInstanceSecret } from "../lib/export/signing-keys";
import type { Instance } from "../lib/instance";
import { createTestRuntime, type TestRuntime } from "./runtime-harness";

const INSTANCE_KEY = Symbol.for("loopstacks.instance");

export interface TestInstance extends TestRuntime {
  instance: Instance;
  /** Makes `getInstance()` (what pages, actions and route handlers call) return this instance. */
  install(): void;
}

/**
 * An Instance, as the Next server builds it, on a fresh test database with the scripted model
 * and the development directory, so route handlers and actions can be called as functions.
 */
export async function createTestInstance(kind: DatabaseKind): Promise<TestInstance> {
  const rt = await createTestRuntime(kind);
  const dataDir = mkdtempSync(join(tmpdir(), "loopstacks-instance-"));
  const devDirectory = join(dataDir, "dev-directory.json");
  ensureDevDirectoryFile(devDirectory);
  const instance: Instance = {
    registry: rt.registry,
    executor: rt.executor,
    authorizer: rt.authorizer,
    config: loadConfig({ NODE_ENV: "test", LOOPSTACKS_DATA_DIR: dataDir, LOOPSTACKS_SEED_DEMO: "false" }),
    database: rt.database,
    store: rt.store,
    directory: createDevDirectory(devDirectory),
    groupRecheckSeconds: 300,
    instanceSecret: loadOrCreateInstanceSecret(dataDir),
    scriptedModel: rt.model,
    close: async () => {},
  };
  return {
    ...rt,
    instance,
    install() {
      (globalThis as Record<symbol, unknown>)[INSTANCE_KEY] = Promise.resolve(instance);
    },
    async closeAll() {
      if ((globalThis as Record<symbol, unknown>)[INSTANCE_KEY]) delete (globalThis as Record<symbol, unknown>)[INSTANCE_KEY];
      await rt.closeAll();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
