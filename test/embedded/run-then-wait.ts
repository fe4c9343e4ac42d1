/**
 * An embedded LoopStacks process for the restart test: on the data directory it is given, it
 * registers a two-frame tree whose child answers slowly, starts a run, prints `RUN <id>`, then
 * `CHILD ASKED` once the parent's first turn is saved and the child's model call is under way,
 * and waits to be killed.
 */
import { addRealmMapping } from "../../db/queries/realms";
import { loadConfig } from "../../lib/config";
import { createInstance } from "../../lib/instance";

const dataDir = process.argv[2];
if (!dataDir) throw new Error("usage: run-then-wait.ts <data dir>");
const instance = await createInstance(loadConfig({ NODE_ENV: "test", LOOPSTACKS_DATA_DIR: dataDir, LOOPSTACKS_SEED_DEMO: "false" }));
await addRealmMapping(instance.database.db, { realmId: "ops", groupDn: "cn=ops,dc=test", role: "operator", createdBy: "test" });
await instance.registry.registerMany([
  { id: "slow-child", type: "llm", realm: "ops", llm: { model: "m" } },
  { id: "parent", type: "llm", realm: "ops", llm: { model: "m", tools: [{ name: "ask", loopRef: "slow-child" }] } },
]);
instance.scriptedModel!.setScript("parent", (_req, { turn }) => (turn === 0 ? { toolUses: [{ name: "ask", input: { q: 1 } }] } : { text: "parent done" }));
instance.scriptedModel!.setScript("slow-child", () => {
  console.log("CHILD ASKED");
  return { text: "child answer", latencyMs: 60_000 };
});
const { runId } = await instance.executor.start("parent", "go", { identity: { subject: "olga", groups: ["cn=ops,dc=test"], kind: "user", source: "test" } });
console.log(`RUN ${runId}`);
await new Promise((resolve) => setTimeout(resolve, 120_000));
// Not killed in time: end anyway, so a failed test never leaves this process behind.
process.exit(1);
