import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getRunProgress, listWorkers } from "../db/queries/cluster";
import { upsertLoopEvaluator } from "../db/queries/prompts";
import { addRealmMapping } from "../db/queries/realms";
import { listRunScores } from "../db/queries/scores";
import packageJson from "../package.json";
import { loadConfig } from "./config";
import { createInstance, type Instance } from "./instance";
import type { Identity } from "./runtime/types";

/** The default: the queue engine, with its worker inside the process, on a PGlite data directory. */
describe("an instance in embedded mode", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "loopstacks-embedded-instance-"));
  let instance: Instance;
  const olga: Identity = { subject: "olga", groups: ["cn=ops,dc=test"], kind: "user", source: "test" };

  beforeAll(async () => {
    const config = loadConfig({ NODE_ENV: "test", LOOPSTACKS_DATA_DIR: dataDir, LOOPSTACKS_SEED_DEMO: "false" });
    expect(config).toMatchObject({ execution: "embedded", database: { kind: "pglite" } });
    instance = await createInstance(config);
    await addRealmMapping(instance.database.db, { realmId: "ops", groupDn: "cn=ops,dc=test", role: "operator", createdBy: "test" });
    await instance.registry.registerMany([
      { id: "child", type: "llm", realm: "ops", llm: { model: "m" } },
      { id: "root", type: "llm", realm: "ops", llm: { model: "m", tools: [{ name: "ask", loopRef: "child" }] } },
      { id: "judge", type: "llm", realm: "ops", llm: { model: "m" } },
      { id: "slow", type: "llm", realm: "ops", llm: { model: "m" } },
    ]);
    const model = instance.scriptedModel!;
    model.setScript("root", (_req, { turn }) => (turn === 0 ? { toolUses: [{ name: "ask", input: { q: 1 } }, { name: "ask", input: { q: 2 } }] } : { text: "root done" }));
    model.setScript("child", () => ({ text: "child answer" }));
    model.setScript("judge", () => ({ text: '{"score": 0.75, "label": "good"}' }));
    model.setScript("slow", () => ({ hang: true }));
  }, 60_000);

  afterAll(async () => {
    await instance?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("executes runs on the engine's worker in this process, with the whole trace", async () => {
    const result = await instance.executor.run("root", "hello", { identity: olga });
    expect(result.status).toBe("succeeded");
    expect(result.output).toBe("root done");
    expect(result.trace.children.map((c) => [c.loop.id, c.status])).toEqual([
      ["child", "succeeded"],
      ["child", "succeeded"],
    ]);
    // The registry is written at each heartbeat (every 2 s).
    let [worker] = await listWorkers(instance.database.db, { scope: "all" });
    for (let i = 0; i < 100 && !(worker && worker.processed >= 3); i++) {
      await new Promise((r) => setTimeout(r, 100));
      [worker] = await listWorkers(instance.database.db, { scope: "all" });
    }
    expect(worker).toMatchObject({ isLive: true, pid: process.pid, version: packageJson.version });
    expect(worker!.processed).toBeGreaterThanOrEqual(3);
  });

  it("refuses a caller without a role before anything executes", async () => {
    const result = await instance.executor.run("root", "hello", { identity: { ...olga, subject: "eve", groups: ["cn=nobody,dc=test"] } });
    expect(result.status).toBe("denied");
    expect(result.trace).toMatchObject({ status: "denied", children: [] });
    expect(instance.scriptedModel!.requests.filter((r) => r.frameId === result.trace.id)).toEqual([]);
  });

  it("runs evaluator loops and records their scores", async () => {
    await upsertLoopEvaluator(instance.database.db, { loopId: "child", evaluatorLoopId: "judge", sampleRate: 1, scoreName: "quality", createdBy: "test" });
    const result = await instance.executor.run("child", "rate me", { identity: olga });
    expect(result.status).toBe("succeeded");
    let scores = await listRunScores(instance.database.db, { runIds: [result.runId], scope: "all" });
    // The evaluation is a run of its own, queued behind nothing but still a full run.
    for (let i = 0; i < 400 && scores.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      scores = await listRunScores(instance.database.db, { runIds: [result.runId], scope: "all" });
    }
    expect(scores.map((s) => ({ frameId: s.frameId, name: s.name, value: s.value, label: s.label }))).toEqual([{ frameId: result.trace.id, name: "quality", value: 0.75, label: "good" }]);
  });

  it("cancels a run whose model never answers", async () => {
    const { runId, done } = await instance.executor.start("slow", "wait", { identity: olga });
    for (let i = 0; i < 100 && instance.scriptedModel!.requests.every((r) => r.loopId !== "slow"); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await (instance.executor as unknown as { cancelRun(id: string, reason?: string): Promise<boolean> }).cancelRun(runId, "stop")).toBe(true);
    const result = await done;
    expect(result.status).toBe("cancelled");
    expect(result.trace.status).toBe("cancelled");
  });
});

describe("an instance with direct execution", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "loopstacks-direct-instance-"));
  let instance: Instance;

  beforeAll(async () => {
    instance = await createInstance(loadConfig({ NODE_ENV: "test", LOOPSTACKS_DATA_DIR: dataDir, LOOPSTACKS_SEED_DEMO: "false", LOOPSTACKS_EXECUTION: "direct" }));
  }, 60_000);

  afterAll(async () => {
    await instance?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("runs loops in this process without the queue", async () => {
    await addRealmMapping(instance.database.db, { realmId: "ops", groupDn: "cn=ops,dc=test", role: "operator", createdBy: "test" });
    await instance.registry.register({ id: "solo", type: "llm", realm: "ops", llm: { model: "m" } });
    instance.scriptedModel!.setScript("solo", () => ({ text: "direct answer" }));
    const result = await instance.executor.run("solo", "hi", { identity: { subject: "olga", groups: ["cn=ops,dc=test"], kind: "user", source: "test" } });
    expect(result).toMatchObject({ status: "succeeded", output: "direct answer" });
    expect(await listWorkers(instance.database.db, { scope: "all" })).toEqual([]);
  });

  it("names the variable when the execution mode is unknown", () => {
    expect(() => loadConfig({ LOOPSTACKS_EXECUTION: "sideways" })).toThrow(/LOOPSTACKS_EXECUTION/);
  });
});

describe("an embedded instance killed mid-run", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "loopstacks-embedded-restart-"));
  let instance: Instance | undefined;
  let child: ChildProcess | undefined;

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await instance?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("takes the run up again at the next start, from its saved turn, without repeating a frame", async () => {
    const entry = fileURLToPath(new URL("../test/embedded/run-then-wait.ts", import.meta.url));
    const proc = spawn(process.execPath, ["--import", "tsx", entry, dataDir], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NODE_ENV: "test" }, stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    let output = "";
    proc.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    proc.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on("exit", (_code, signal) => resolve(signal)));
    for (let i = 0; i < 1_200 && !output.includes("CHILD ASKED") && proc.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
    const runId = /RUN (\S+)/.exec(output)?.[1];
    expect(runId, output).toBeDefined();
    expect(output).toContain("CHILD ASKED");
    // Killed while the child frame waits for its (slow) model answer.
    proc.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");

    instance = await createInstance(loadConfig({ NODE_ENV: "test", LOOPSTACKS_DATA_DIR: dataDir, LOOPSTACKS_SEED_DEMO: "false" }));
    const progress = async () => (await getRunProgress(instance!.database.db, { runIds: [runId!], scope: "all" }))[0];
    expect(await progress()).toMatchObject({ status: "running", frames: { total: 2 } });
    // The dead process's worker falls silent; its steps are handed to this process's worker.
    let now = await progress();
    for (let i = 0; i < 600 && now?.status === "running"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      now = await progress();
    }
    expect(now).toMatchObject({ status: "succeeded", frames: { total: 2, succeeded: 2 } });
    // The parent's first turn was saved before the kill and is not asked again.
    const asked = instance.scriptedModel!.requests.map((r) => [r.loopId, (r.body as { messages: unknown[] }).messages.length]);
    expect(asked).toEqual([
      ["slow-child", 1],
      ["parent", 3],
    ]);
  }, 150_000);
});
