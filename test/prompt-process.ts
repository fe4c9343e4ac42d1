/**
 * A second LoopStacks process for the cross-process prompt tests: it opens the same PostgreSQL
 * database and either promotes a version or runs a loop, prints one JSON line and exits.
 *
 *   node --import tsx test/prompt-process.ts promote <databaseUrl> <realm> <loopId> <version>
 *   node --import tsx test/prompt-process.ts run <databaseUrl> <realm> <loopId>
 */
import { openDatabase } from "../db/client";
import { createDbStore } from "../db/store";
import { createRuntime } from "../lib/runtime";
import { createAnthropicModelClient } from "../lib/runtime/anthropic-model-client";
import { createMcpClientFactory } from "../lib/runtime/mcp/client-factory";
import type { Identity } from "../lib/runtime/types";
import { createScriptedModelServer } from "../lib/scripted-model";
import { promotePromptVersion } from "../lib/services/prompts/promote-prompt-version";

const [command, url, realm, loopId, version] = process.argv.slice(2);
if (!command || !url || !realm || !loopId) throw new Error("usage: prompt-process.ts promote|run <databaseUrl> <realm> <loopId> [version]");

const database = await openDatabase({ url, poolSize: 2 });
try {
  if (command === "promote") {
    const identity: Identity = { subject: "second-process", groups: [], kind: "user", source: "test" };
    const { promotion } = await promotePromptVersion({ db: database.db }, { identity, roles: [{ realm, role: "maintainer", via: "test" }] }, {
      loopId,
      version: Number(version),
      reason: "promoted by a second process",
    });
    console.log(JSON.stringify({ committedAt: Date.now(), toVersion: promotion.toVersion }));
  } else if (command === "run") {
    const model = createScriptedModelServer({ defaultScript: (request) => ({ text: `system was: ${String(request.system)}` }) });
    const { url: baseURL } = await model.start();
    const runtime = createRuntime({ store: createDbStore(database.db), model: createAnthropicModelClient({ apiKey: "test-key", baseURL }), mcp: createMcpClientFactory() });
    const identity = { subject: "second-process", groups: [], kind: "user", source: "test", grants: [{ realm, role: "operator", via: "test" }] } as Identity;
    const result = await runtime.executor.run(loopId, {}, { identity });
    console.log(JSON.stringify({ status: result.status, version: result.trace.prompt?.version ?? null, output: result.output, startedAt: result.trace.startedAt }));
    await runtime.close();
    await model.close();
  } else {
    throw new Error(`Unknown command ${command}`);
  }
} finally {
  await database.close();
}
