import type { DatabaseHandle, DatabaseKind } from "../db/client";
import { addRealmMapping } from "../db/queries/realms";
import { createDbStore } from "../db/store";
import { createAnthropicModelClient } from "../lib/runtime/anthropic-model-client";
import { createRuntime, type Runtime, type RuntimeDeps } from "../lib/runtime";
import { createMcpClientFactory } from "../lib/runtime/mcp/client-factory";
import type { RuntimeStore } from "../lib/runtime/store";
import type { Identity, Role } from "../lib/runtime/types";
import { createScriptedModelServer, type ScriptedModelServer } from "../lib/scripted-model";
import { openTestDatabase } from "./database";

export interface TestRuntime extends Runtime {
  kind: DatabaseKind;
  database: DatabaseHandle;
  store: RuntimeStore;
  model: ScriptedModelServer;
  /** Maps a made-up group to `role` in `realm` and returns an identity holding it. */
  grant(realm: string, role: Role, subject?: string): Promise<Identity>;
  closeAll(): Promise<void>;
}

let groupCounter = 0;

/** A runtime on a fresh database, talking to a scripted model server over real HTTP. */
export async function createTestRuntime(kind: DatabaseKind, overrides: Partial<RuntimeDeps> = {}): Promise<TestRuntime> {
  const database = await openTestDatabase(kind);
  const model = createScriptedModelServer();
  const { url } = await model.start();
  const store = createDbStore(database.db);
  const runtime = createRuntime({
    store,
    model: createAnthropicModelClient({ apiKey: "test-key", baseURL: url }),
    mcp: createMcpClientFactory(),
    ...overrides,
  });
  return {
    ...runtime,
    kind,
    database,
    store,
    model,
    async grant(realm, role, subject = `user-${++groupCounter}`) {
      const group = `cn=${realm}-${role}-${groupCounter},ou=groups,dc=test`;
      await addRealmMapping(database.db, { realmId: realm, groupDn: group, role, createdBy: "test" });
      return { subject, groups: [group], kind: "user", source: "test" };
    },
    async closeAll() {
      await runtime.close();
      await model.close();
      await database.close();
    },
  };
}
