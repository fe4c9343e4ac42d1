import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addRealmMapping } from "../db/queries/realms";
import { DATABASE_KINDS, TEST_POSTGRES_URL } from "../test/database";
import { startWorker, type ClusterWorker } from "./cluster";
import { loadConfig } from "./config";
import { createInstance, type Instance } from "./instance";
import { createAnthropicModelClient } from "./runtime/anthropic-model-client";
import { createMcpClientFactory } from "./runtime/mcp/client-factory";

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

describe.runIf(DATABASE_KINDS.includes("postgres"))("an instance in cluster mode", () => {
  const name = `loopstacks_test_${randomBytes(6).toString("hex")}`;
  const dataDir = mkdtempSync(join(tmpdir(), "loopstacks-cluster-instance-"));
  let instance: Instance;
  let worker: ClusterWorker;

  beforeAll(async () => {
    await adminQuery(`create database ${name}`);
    const url = new URL(TEST_POSTGRES_URL);
    url.pathname = `/${name}`;
    instance = await createInstance(
      loadConfig({ NODE_ENV: "test", DATABASE_URL: url.toString(), LOOPSTACKS_EXECUTION: "cluster", LOOPSTACKS_DATA_DIR: dataDir, LOOPSTACKS_SEED_DEMO: "false" }),
    );
    worker = await startWorker({
      handle: instance.database,
      model: createAnthropicModelClient({ apiKey: "test", baseURL: instance.scriptedModel!.url }),
      mcp: createMcpClientFactory(),
      concurrency: 4,
      pollMs: 100,
    });
  });

  afterAll(async () => {
    await worker?.stop({ graceMs: 1_000 });
    await instance?.close();
    await adminQuery(`drop database if exists ${name} with (force)`);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("records a run and a worker executes it; the caller gets the whole trace", async () => {
    await addRealmMapping(instance.database.db, { realmId: "ops", groupDn: "cn=ops,dc=test", role: "operator", createdBy: "test" });
    await instance.registry.register({ id: "cluster-child", type: "llm", realm: "ops", llm: { model: "m" } });
    await instance.registry.register({ id: "cluster-root", type: "llm", realm: "ops", llm: { model: "m", tools: [{ name: "ask", loopRef: "cluster-child" }] } });
    const result = await instance.executor.run("cluster-root", "hello", { identity: { subject: "olga", groups: ["cn=ops,dc=test"], kind: "user", source: "test" } });
    expect(result.status).toBe("succeeded");
    expect(result.trace.children.map((c) => [c.loop.id, c.status])).toEqual([["cluster-child", "succeeded"]]);
    expect(worker.stats().processed).toBeGreaterThan(0);
  });

  it("refuses cluster execution without PostgreSQL", () => {
    expect(() => loadConfig({ LOOPSTACKS_EXECUTION: "cluster" })).toThrow(/needs DATABASE_URL/);
  });
});
