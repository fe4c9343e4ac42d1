import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { walkTrace } from "../runtime/trace";
import type { Identity, TraceFrame } from "../runtime/types";
import type { ScriptFunction } from "../scripted-model";
import { createTestRuntime, type TestRuntime } from "../../test/runtime-harness";
import { getQueueDepths, getQueueHealth, getRunProgress, listDeadLetters, listWorkers } from "../../db/queries/cluster";
import { upsertLoopEvaluator } from "../../db/queries/prompts";
import { listConversationTurns } from "../../db/queries/runs";
import { createClusterExecutor, type ClusterExecutor } from "./executor";
import { DEAD_LETTER_QUEUE } from "./queue";

const WORKER_ENTRY = fileURLToPath(new URL("../../test/cluster/worker-process.ts", import.meta.url));
const LIMITED_LOOP_CONCURRENCY = 2;
const NARROW_REALM_CONCURRENCY = 3;
/** The leaves of the deep tree hang; this many run, the others stay queued. */
const DEEP_LEAF_CONCURRENCY = 4;

interface WorkerProcess {
  id: string;
  child: ChildProcess;
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A `loopstacks worker` process of its own, pointed at the test database and the scripted model. */
async function startWorkerProcess(id: string, env: Record<string, string>, concurrency: number): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", WORKER_ENTRY, "--id", id, "--concurrency", String(concurrency)], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NODE_ENV: "test", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${id} did not start:\n${output.join("")}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.join("").includes(`worker ${id} started`)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    void exited.then(({ code }) => reject(new Error(`worker ${id} exited with ${code}:\n${output.join("")}`)));
  });
  return { id, child, output, exited };
}

/** What the workers said about steps they had to give up or retry, for failure messages. */
function retryLog(workers: Iterable<WorkerProcess>): string {
  return [...workers]
    .flatMap((w) => w.output.join("").split("\n").filter((line) => /to be retried|stopped sending|could not settle/.test(line)).map((line) => `${w.id}: ${line.slice(0, 300)}`))
    .join("\n");
}

function frames(trace: TraceFrame): TraceFrame[] {
  return [...walkTrace(trace)];
}

/** Every child hangs off a tool call of its parent that names it, and the counts add up. */
function expectConsistentTree(trace: TraceFrame, expectedFrames: number): void {
  const all = frames(trace);
  expect(all).toHaveLength(expectedFrames);
  expect(new Set(all.map((f) => f.id)).size).toBe(expectedFrames);
  for (const frame of all) {
    expect(["succeeded", "failed", "denied", "cancelled"]).toContain(frame.status);
    const loopCalls = frame.toolCalls.filter((c) => c.kind === "loop");
    expect(loopCalls.map((c) => c.childFrameId).sort()).toEqual(frame.children.map((c) => c.id).sort());
    for (const child of frame.children) {
      const call = frame.toolCalls.find((c) => c.id === child.parentToolCallId);
      expect(call?.childFrameId).toBe(child.id);
      expect(call?.endedAt).not.toBeNull();
      expect(child.depth).toBe(frame.depth + 1);
      expect(child.runId).toBe(trace.runId);
    }
  }
}

function turnOf(body: unknown): number {
  const messages = (body as { messages?: { role: string }[] }).messages ?? [];
  return messages.filter((m) => m.role === "assistant").length;
}

function firstUserInput(body: unknown): Record<string, unknown> {
  const first = (body as { messages: { content: string }[] }).messages[0]?.content;
  try {
    return JSON.parse(typeof first === "string" ? first : "{}") as Record<string, unknown>;
  } catch {
    return {};
  }
}

describe("cluster mode: worker processes on PostgreSQL", () => {
  let rt: TestRuntime;
  let executor: ClusterExecutor;
  let operator: Identity;
  let sideEffects: Server;
  const idempotencyKeys: { key: string; at: number }[] = [];
  let workerEnv: Record<string, string>;
  const workers = new Map<string, WorkerProcess>();
  const admin = () => new pg.Client({ connectionString: rt.database.location });

  beforeAll(async () => {
    rt = await createTestRuntime("postgres");
    operator = await rt.grant("clinic", "operator", "olivia");
    await rt.grant("narrow", "operator", "olivia").then(async (narrow) => {
      operator = { ...operator, groups: [...operator.groups, ...narrow.groups] };
    });
    sideEffects = createServer((req, res) => {
      idempotencyKeys.push({ key: String(req.headers["idempotency-key"]), at: Date.now() });
      req.resume();
      req.on("end", () => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ recorded: true }));
      });
    });
    await new Promise<void>((resolve) => sideEffects.listen(0, "127.0.0.1", resolve));
    const sideEffectsUrl = `http://127.0.0.1:${(sideEffects.address() as AddressInfo).port}`;

    await rt.registry.registerMany([
      { id: "leaf", type: "llm", realm: "clinic", llm: { model: "claude-test", systemPrompt: "Answer briefly." } },
      { id: "record", type: "http", realm: "clinic", http: { method: "POST", url: `${sideEffectsUrl}/record`, timeoutMs: 5_000 } },
      {
        id: "mid",
        type: "llm",
        realm: "clinic",
        llm: { model: "claude-test", tools: [{ name: "ask", loopRef: "leaf" }, { name: "record", loopRef: "record" }] },
      },
      {
        id: "tree",
        type: "llm",
        realm: "clinic",
        llm: { model: "claude-test", tools: [{ name: "research", loopRef: "mid" }, { name: "record", loopRef: "record" }] },
      },
      { id: "deep-leaf", type: "llm", realm: "clinic", llm: { model: "claude-test" } },
      {
        id: "deep",
        type: "llm",
        realm: "clinic",
        llm: { model: "claude-test", tools: [{ name: "deeper", loopRef: "deep" }, { name: "leaf", loopRef: "deep-leaf" }] },
      },
      { id: "limited", type: "llm", realm: "clinic", llm: { model: "claude-test" } },
      { id: "limited-fan", type: "llm", realm: "clinic", llm: { model: "claude-test", tools: [{ name: "go", loopRef: "limited" }] } },
      { id: "narrow-leaf", type: "llm", realm: "narrow", llm: { model: "claude-test" } },
      { id: "narrow-fan", type: "llm", realm: "clinic", llm: { model: "claude-test", tools: [{ name: "go", loopRef: "narrow-leaf" }] } },
      { id: "poison", type: "llm", realm: "clinic", llm: { model: "claude-test" } },
      { id: "stall", type: "llm", realm: "clinic", llm: { model: "claude-test" } },
      { id: "impatient", type: "llm", realm: "clinic", limits: { timeoutMs: 2_500 }, llm: { model: "claude-test", tools: [{ name: "wait", loopRef: "stall" }] } },
      { id: "answerer", type: "llm", realm: "clinic", llm: { model: "claude-test" } },
      { id: "judge", type: "llm", realm: "clinic", llm: { model: "claude-test" } },
      { id: "meta-judge", type: "llm", realm: "clinic", llm: { model: "claude-test" } },
    ]);
    // Scripts answer by turn, not by call count: a turn asked again after a crash gets the same answer.
    const tree: ScriptFunction = (_req, { turn }) =>
      turn === 0
        ? { toolUses: [1, 2, 3].map((n) => ({ name: "research", input: { topic: `t${n}` } })).concat([{ name: "record", input: { topic: "root" } }]) }
        : { text: "tree done" };
    const mid: ScriptFunction = (_req, { turn }) =>
      turn === 0
        ? { toolUses: [{ name: "ask", input: { q: 1 } }, { name: "ask", input: { q: 2 } }, { name: "ask", input: { q: 3 } }, { name: "record", input: { q: 4 } }, { name: "record", input: { q: 5 } }] }
        : { text: "mid done" };
    rt.model.setScript("tree", tree);
    rt.model.setScript("mid", mid);
    rt.model.setScript("leaf", () => ({ text: "leaf answer" }));
    rt.model.setScript("deep", (req, { turn }) => {
      const level = Number(firstUserInput(req).level ?? 0);
      if (turn > 0) return { text: `level ${level} done` };
      const tool = level < 3 ? "deeper" : "leaf";
      return { toolUses: [{ name: tool, input: { level: level + 1 } }, { name: tool, input: { level: level + 1 } }] };
    });
    rt.model.setScript("deep-leaf", () => ({ hang: true }));
    rt.model.setScript("limited-fan", (_req, { turn }) => (turn === 0 ? { toolUses: Array.from({ length: 6 }, (_, i) => ({ name: "go", input: { i } })) } : { text: "fan done" }));
    rt.model.setScript("limited", () => ({ text: "limited", latencyMs: 300 }));
    rt.model.setScript("narrow-fan", (_req, { turn }) => (turn === 0 ? { toolUses: Array.from({ length: 7 }, (_, i) => ({ name: "go", input: { i } })) } : { text: "fan done" }));
    rt.model.setScript("narrow-leaf", () => ({ text: "narrow", latencyMs: 300 }));
    // The poison test makes the database refuse this loop's turns.
    rt.model.setScript("poison", () => ({ text: "an answer the database refuses" }));
    rt.model.setScript("stall", () => ({ hang: true }));
    rt.model.setScript("impatient", (_req, { turn }) => (turn === 0 ? { toolUses: [{ name: "wait", input: {} }] } : { text: "never asked" }));
    rt.model.setScript("answerer", () => ({ text: "42" }));
    rt.model.setScript("judge", () => ({ text: JSON.stringify({ score: 0.75, label: "good", comment: "plausible" }) }));
    rt.model.setScript("meta-judge", () => ({ text: "0.5" }));

    executor = await createClusterExecutor({ handle: rt.database, store: rt.store, pollMs: 500 });
    workerEnv = {
      DATABASE_URL: rt.database.location,
      ANTHROPIC_BASE_URL: rt.model.url,
      ANTHROPIC_API_KEY: "test-key",
      LOOPSTACKS_WORKER_SUPERVISE_SECONDS: "1",
      LOOPSTACKS_WORKER_SHUTDOWN_GRACE_MS: "5000",
      LOOPSTACKS_WORKER_LIMITS: JSON.stringify({ loops: { limited: LIMITED_LOOP_CONCURRENCY, "deep-leaf": DEEP_LEAF_CONCURRENCY }, realms: { narrow: NARROW_REALM_CONCURRENCY } }),
    };
    for (const [id, w] of await Promise.all(["w1", "w2", "w3"].map(async (id) => [id, await startWorkerProcess(id, workerEnv, 40)] as const))) workers.set(id, w);
  }, 90_000);

  afterAll(async () => {
    for (const w of workers.values()) {
      if (w.child.exitCode !== null && w.child.exitCode !== 0) console.log(`worker ${w.id} exited with ${w.child.exitCode}:\n${w.output.join("").slice(-4_000)}`);
    }
    for (const w of workers.values()) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
    await executor?.close();
    sideEffects?.closeAllConnections();
    sideEffects?.close();
    await rt?.closeAll();
  });

  it("refuses to start a worker without DATABASE_URL, saying why", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", WORKER_ENTRY], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NODE_ENV: "test" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(/loopstacks worker needs DATABASE_URL/);
  });

  it("runs 100 concurrent runs of a 20-frame tree on three workers, every trace complete and consistent", async () => {
    rt.model.reset();
    idempotencyKeys.length = 0;
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => executor.run("tree", { case: i }, { identity: operator })));
    const seconds = (performance.now() - t0) / 1000;
    console.log(`100 runs × 20 frames on 3 workers: ${seconds.toFixed(1)} s, ${(2000 / seconds).toFixed(0)} frames/s`);

    for (const result of results) {
      expect(result.status, JSON.stringify(result.error)).toBe("succeeded");
      expect(result.output).toBe("tree done");
      expectConsistentTree(result.trace, 20);
      const all = frames(result.trace);
      expect(all.every((f) => f.status === "succeeded")).toBe(true);
      expect(all.filter((f) => f.loop.id === "leaf")).toHaveLength(9);
      expect(all.filter((f) => f.loop.id === "record")).toHaveLength(7);
      expect(all.every((f) => f.authorization.allowed && f.identity.subject === "olivia")).toBe(true);
      expect(result.trace.turns).toBe(2);
    }
    const client = admin();
    await client.connect();
    try {
      const runIds = results.map((r) => r.runId);
      const { rows: runRows } = await client.query<{ frame_count: number }>(`select frame_count from runs where id = any($1::uuid[])`, [runIds]);
      expect(runRows.every((r) => r.frame_count === 20)).toBe(true);
      // Each LLM turn that called tools was saved with its tool results.
      const { rows: turns } = await client.query<{ n: number }>(
        `select count(*)::int as n from conversation_turns t join frames f on f.id = t.frame_id where f.run_id = any($1::uuid[]) and jsonb_array_length(t.messages) = 2`,
        [runIds],
      );
      expect(turns[0]!.n).toBe(100 * 4);
      const { rows: perWorker } = await client.query<{ id: string; processed: number }>(`select id, processed from workers order by id`);
      expect(perWorker.map((w) => w.id)).toEqual(["w1", "w2", "w3"]);
    } finally {
      await client.end();
    }
    // Every model turn asked once; every HTTP side effect sent once.
    const asked = new Map<string, number>();
    for (const r of rt.model.requests) asked.set(`${r.frameId}#${turnOf(r.body)}`, (asked.get(`${r.frameId}#${turnOf(r.body)}`) ?? 0) + 1);
    expect(asked.size).toBe(100 * (2 + 3 * 2 + 9));
    const repeated = [...asked.entries()].filter(([, n]) => n > 1);
    expect(repeated, `asked more than once: ${JSON.stringify(repeated)}\n${retryLog(workers.values())}`).toEqual([]);
    expect(idempotencyKeys).toHaveLength(700);
    expect(new Set(idempotencyKeys.map((k) => k.key)).size).toBe(700);
  }, 120_000);

  it("carries a run on after a worker is killed with SIGKILL: no frame lost or duplicated, no saved turn asked again", async () => {
    rt.model.reset();
    rt.model.setLatency(300);
    idempotencyKeys.length = 0;
    const started = await Promise.all(Array.from({ length: 6 }, (_, i) => executor.start("tree", { kill: i }, { identity: operator })));
    const client = admin();
    await client.connect();
    let killedAt = 0;
    let victim: WorkerProcess | undefined;
    try {
      // Kill the worker holding the most steps right now (a lease names it), once some turns are saved.
      for (let i = 0; i < 200 && !killedAt; i++) {
        const { rows } = await client.query<{ owner: string; busy: number; saved: number }>(
          `select lease_owner as owner, count(*)::int as busy, (select count(*) from conversation_turns)::int as saved
             from frames where status = 'running' and lease_owner is not null group by lease_owner order by busy desc limit 1`,
        );
        const busiest = rows[0];
        if (busiest && busiest.saved >= 3 && workers.has(busiest.owner)) {
          victim = workers.get(busiest.owner)!;
          victim.child.kill("SIGKILL");
          killedAt = Date.now();
        } else await new Promise((r) => setTimeout(r, 50));
      }
      expect(killedAt).toBeGreaterThan(0);
      expect((await victim!.exited).signal).toBe("SIGKILL");

      const results = await Promise.all(started.map((s) => s.done));
      for (const result of results) {
        expect(result.status, JSON.stringify(result.error)).toBe("succeeded");
        expectConsistentTree(result.trace, 20);
      }
      const runIds = started.map((s) => s.runId);
      const { rows: dupes } = await client.query<{ n: number }>(
        `select count(*)::int as n from (select parent_frame_id, parent_tool_call_id from frames where run_id = any($1::uuid[]) and parent_frame_id is not null
          group by 1, 2 having count(*) > 1) d`,
        [runIds],
      );
      expect(dupes[0]!.n).toBe(0);
      // The killed worker's steps were taken over by the others.
      const { rows: retried } = await client.query<{ n: number }>(`select count(*)::int as n from pgboss.job where name = 'loopstacks.steps' and retry_count > 0`);
      expect(retried[0]!.n).toBeGreaterThan(0);

      // A turn asked twice is one that was in flight when the worker died: it was saved only after the kill.
      const { rows: saved } = await client.query<{ frame_id: string; turn: number; created_at: Date }>(
        `select t.frame_id, t.turn, t.created_at from conversation_turns t join frames f on f.id = t.frame_id where f.run_id = any($1::uuid[])`,
        [runIds],
      );
      const savedAt = new Map(saved.map((t) => [`${t.frame_id}#${t.turn - 1}`, t.created_at.getTime()]));
      const asked = new Map<string, number[]>();
      for (const r of rt.model.requests) {
        const key = `${r.frameId}#${turnOf(r.body)}`;
        asked.set(key, [...(asked.get(key) ?? []), r.time]);
      }
      expect(asked.size).toBe(6 * 17);
      const repeated = [...asked.entries()].filter(([, times]) => times.length > 1);
      for (const [key, times] of repeated) {
        const context = `${JSON.stringify({ key, times, killedAt, savedAt: savedAt.get(key) })}\n${retryLog(workers.values())}`;
        expect(times, context).toHaveLength(2);
        // Asked again only after the kill. (The first ask's time is when this process read it, which for a
        // request the worker sent just before dying may be a moment after the kill: it is not compared.)
        expect(times[0]!, context).toBeLessThan(times[1]!);
        expect(times[1]!, context).toBeGreaterThan(killedAt);
        expect(savedAt.get(key)!, context).toBeGreaterThan(killedAt);
      }
      // No HTTP call that had succeeded before the kill was sent again.
      const { rows: httpFrames } = await client.query<{ id: string; ended_at: Date }>(`select id, ended_at from frames where run_id = any($1::uuid[]) and loop_id = 'record'`, [runIds]);
      expect(httpFrames).toHaveLength(6 * 7);
      for (const frame of httpFrames) {
        const sent = idempotencyKeys.filter((k) => k.key === frame.id);
        expect(sent.length).toBeGreaterThanOrEqual(1);
        if (sent[0]!.at < killedAt && frame.ended_at.getTime() < killedAt) expect(sent).toHaveLength(1);
        expect(sent.length).toBeLessThanOrEqual(2);
      }
      console.log(`kill -9: ${repeated.length} model turn(s) and ${idempotencyKeys.length - httpFrames.length} HTTP call(s) in flight were repeated; recovered in ${((Date.now() - killedAt) / 1000).toFixed(1)} s`);
    } finally {
      await client.end();
      rt.model.setLatency(0);
      // The tests after this one expect three workers again.
      if (victim) workers.set(victim.id, await startWorkerProcess(victim.id, workerEnv, 40));
    }
  }, 90_000);

  it("cancels a deep tree: every running and queued descendant ends cancelled and workers stop executing it", async () => {
    rt.model.reset();
    const { runId, done } = await executor.start("deep", { level: 0 }, { identity: operator });
    const client = admin();
    await client.connect();
    try {
      const count = async (where: string) => (await client.query<{ n: number }>(`select count(*)::int as n from frames where run_id = $1 and ${where}`, [runId])).rows[0]!.n;
      const ready = async () => (await count("true")) === 31 && (await count(`loop_id = 'deep-leaf' and status = 'running'`)) === DEEP_LEAF_CONCURRENCY;
      for (let i = 0; i < 300 && !(await ready()); i++) await new Promise((r) => setTimeout(r, 50));
      expect(await count(`loop_id = 'deep-leaf' and status = 'running'`)).toBe(DEEP_LEAF_CONCURRENCY);
      expect(await count(`loop_id = 'deep-leaf' and status = 'queued'`)).toBe(16 - DEEP_LEAF_CONCURRENCY);
      expect(await count(`loop_id = 'deep' and status = 'running'`)).toBe(15);
      expect(await executor.cancelRun(runId, "Operator pressed stop")).toBe(true);
      const result = await done;
      expect(result.status).toBe("cancelled");
      expect(result.error).toMatchObject({ code: "cancelled", message: "Operator pressed stop" });
      const all = frames(result.trace);
      expect(all).toHaveLength(31);
      expect(all.every((f) => f.status === "cancelled")).toBe(true);
      expect(all.flatMap((f) => f.toolCalls).every((c) => c.endedAt !== null)).toBe(true);
      expect(await executor.cancelRun(runId)).toBe(false);

      // The workers abort the hanging model calls of that run; no new frame appears.
      let busy = -1;
      for (let i = 0; i < 60 && busy !== 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from workers, jsonb_array_elements(current_work) w where w->>'runId' = $1`, [runId]);
        busy = rows[0]!.n;
      }
      expect(busy).toBe(0);
      expect(await count("true")).toBe(31);
    } finally {
      await client.end();
    }
  }, 60_000);

  it("keeps working when a worker's database connections are cut, and the worker recovers", async () => {
    rt.model.reset();
    rt.model.setLatency(50);
    const client = admin();
    await client.connect();
    try {
      const runs = await Promise.all(Array.from({ length: 10 }, (_, i) => executor.start("tree", { cut: i }, { identity: operator })));
      await new Promise((r) => setTimeout(r, 400));
      const cutAt = new Date();
      const { rows: cut } = await client.query<{ pid: number }>(
        `select pg_terminate_backend(pid) as pid from pg_stat_activity where application_name = 'loopstacks-worker w2' and pid <> pg_backend_pid()`,
      );
      expect(cut.length).toBeGreaterThan(0);
      for (const result of await Promise.all(runs.map((r) => r.done))) {
        expect(result.status, JSON.stringify(result.error)).toBe("succeeded");
        expectConsistentTree(result.trace, 20);
      }
      // w2 is back: heartbeating, and taking work again.
      const before = (await client.query<{ processed: number; heartbeat_at: Date }>(`select processed::int as processed, heartbeat_at from workers where id = 'w2'`)).rows[0]!;
      // With the other two paused, the next runs can only be executed by w2.
      const others = [workers.get("w1")!, workers.get("w3")!];
      for (const w of others) w.child.kill("SIGSTOP");
      try {
        const after = await Promise.all(Array.from({ length: 2 }, (_, i) => executor.run("tree", { after: i }, { identity: operator })));
        expect(after.every((r) => r.status === "succeeded")).toBe(true);
      } finally {
        for (const w of others) w.child.kill("SIGCONT");
      }
      await new Promise((r) => setTimeout(r, 2_500));
      const after = (await client.query<{ processed: number; heartbeat_at: Date }>(`select processed::int as processed, heartbeat_at from workers where id = 'w2'`)).rows[0]!;
      expect(after.heartbeat_at.getTime()).toBeGreaterThan(cutAt.getTime());
      expect(after.processed).toBeGreaterThan(before.processed);
      expect(workers.get("w2")!.child.exitCode).toBeNull();
    } finally {
      rt.model.setLatency(0);
      await client.end();
    }
  }, 90_000);

  it("sets poison work aside in the dead-letter queue and fails the run with the reason", async () => {
    const client = admin();
    await client.connect();
    // Work that fails on every attempt: a step whose write the database refuses, whoever runs it.
    await client.query(`create function refuse_poison() returns trigger language plpgsql as $$
      begin
        if (select loop_id from frames where id = new.frame_id) = 'poison' then raise exception 'the database refuses this row'; end if;
        return new;
      end $$`);
    await client.query(`create trigger refuse_poison before insert or update on conversation_turns for each row execute function refuse_poison()`);
    try {
      const result = await executor.run("poison", {}, { identity: operator });
      expect(result.status).toBe("failed");
      expect(result.error?.code).toBe("dead_letter");
      expect(result.error?.message).toMatch(/failed 4 times and was set aside: .*the database refuses this row/);
      expect(result.trace.status).toBe("failed");
      expect(result.trace.error?.code).toBe("dead_letter");
      const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from pgboss.job where name = $1 and data->>'frameId' = $2`, [DEAD_LETTER_QUEUE, result.trace.id]);
      expect(rows[0]!.n).toBe(1);
      // The console sees it, with the reason, only within the realm of the run.
      const [dead] = await listDeadLetters(rt.database.db, { scope: ["clinic"] });
      expect(dead).toMatchObject({ step: "frame", runId: result.runId, frameId: result.trace.id, loopId: "poison", realmId: "clinic", attempts: 4, state: "completed" });
      expect(dead!.reason).toMatch(/the database refuses this row/);
      expect(await listDeadLetters(rt.database.db, { scope: ["narrow"] })).toEqual([]);
    } finally {
      await client.query(`drop trigger refuse_poison on conversation_turns; drop function refuse_poison()`);
      await client.end();
    }
  }, 60_000);

  it("stores a NUL character from a model as U+FFFD on the workers, as the in-process runtime does", async () => {
    await rt.registry.register({ id: "nul-talker", type: "llm", realm: "clinic", llm: { model: "claude-test" } });
    rt.model.setScript("nul-talker", () => ({ text: "zero \u0000 byte, half \ud800 pair" }));
    const result = await executor.run("nul-talker", {}, { identity: operator });
    expect(result.status).toBe("succeeded");
    expect(result.output).toBe("zero \uFFFD byte, half \uFFFD pair");
    expect(result.trace.output).toBe("zero \uFFFD byte, half \uFFFD pair");
    const turns = await listConversationTurns(rt.database.db, result.trace.id);
    expect(turns.map((t) => t.messages)).toEqual([[{ role: "assistant", content: [{ type: "text", text: "zero \uFFFD byte, half \uFFFD pair" }] }]]);
  });

  it("holds loops and realms to their concurrency limits across the cluster", async () => {
    rt.model.reset();
    const [limited, narrow] = await Promise.all([executor.run("limited-fan", {}, { identity: operator }), executor.run("narrow-fan", {}, { identity: operator })]);
    expect(limited.status).toBe("succeeded");
    expect(narrow.status).toBe("succeeded");
    const overlap = (loopId: string) => {
      const times = rt.model.requests.filter((r) => r.loopId === loopId).map((r) => r.time).sort((a, b) => a - b);
      return { count: times.length, max: Math.max(...times.map((t) => times.filter((u) => u <= t && t < u + 300).length)), span: times.at(-1)! - times[0]! };
    };
    const loop = overlap("limited");
    const realm = overlap("narrow-leaf");
    expect(loop.count).toBe(6);
    expect(loop.max).toBeLessThanOrEqual(LIMITED_LOOP_CONCURRENCY);
    expect(loop.span).toBeGreaterThanOrEqual(500);
    expect(realm.count).toBe(7);
    expect(realm.max).toBeLessThanOrEqual(NARROW_REALM_CONCURRENCY);
    expect(realm.span).toBeGreaterThanOrEqual(500);
  }, 60_000);

  it("shows workers, queue depth, run progress and queue health to the console", async () => {
    rt.model.setLatency(800);
    try {
      const { runId, done } = await executor.start("tree", {}, { identity: operator });
      let progress = (await getRunProgress(rt.database.db, { runIds: [runId], scope: ["clinic"] }))[0];
      // Wait until every frame exists and a worker holds one: right after a turn hands out its
      // children they are queued, and no worker holds a lease for a moment.
      for (let i = 0; i < 100 && ((progress?.frames.total ?? 0) < 20 || (progress?.workers.length ?? 0) === 0); i++) {
        await new Promise((r) => setTimeout(r, 50));
        progress = (await getRunProgress(rt.database.db, { runIds: [runId], scope: ["clinic"] }))[0];
      }
      expect(progress).toMatchObject({ runId, status: "running", frames: { total: 20 } });
      expect(progress!.frames.running + progress!.frames.queued).toBeGreaterThan(0);
      expect(progress!.workers.length).toBeGreaterThan(0);
      expect(await getRunProgress(rt.database.db, { runIds: [runId], scope: ["narrow"] })).toEqual([]);

      // The registry is written every 2 s: wait for a heartbeat that shows this run's work.
      let live = await listWorkers(rt.database.db, { scope: ["clinic"] });
      for (let i = 0; i < 60 && !live.flatMap((w) => w.currentWork).some((s) => s.runId === runId); i++) {
        await new Promise((r) => setTimeout(r, 100));
        live = await listWorkers(rt.database.db, { scope: ["clinic"] });
      }
      expect(live.flatMap((w) => w.currentWork).some((s) => s.runId === runId)).toBe(true);
      expect(live.filter((w) => w.isLive).map((w) => w.id).sort()).toEqual(["w1", "w2", "w3"]);
      expect(live.every((w) => w.version === "0.1.0" && w.pid > 0 && w.host.length > 0)).toBe(true);
      expect(live.reduce((sum, w) => sum + w.processed, 0)).toBeGreaterThan(0);
      const hidden = await listWorkers(rt.database.db, { scope: ["narrow"] });
      expect(hidden.flatMap((w) => w.currentWork)).toEqual([]);

      const depths = await getQueueDepths(rt.database.db);
      expect(depths.map((d) => d.queue)).toEqual(["loopstacks.steps", "loopstacks.steps.dead"]);
      const health = await getQueueHealth(rt.database.db);
      expect(health).toMatchObject({ isInstalled: true, status: "ok", workers: { live: 3 }, deadLettersPending: 0 });

      expect((await done).status).toBe("succeeded");
      const ended = (await getRunProgress(rt.database.db, { runIds: [runId], scope: "all" }))[0]!;
      expect(ended).toMatchObject({ status: "succeeded", frames: { total: 20, succeeded: 20, running: 0, queued: 0 }, workers: [] });
    } finally {
      rt.model.setLatency(0);
    }
  }, 60_000);

  it("times out a parent waiting for a hanging child: the run fails with frame_timeout and the workers let go of the child", async () => {
    const result = await executor.run("impatient", {}, { identity: operator, timeoutMs: 60_000 });
    expect(result.status).toBe("failed");
    expect(result.error).toMatchObject({ code: "frame_timeout", message: "Frame exceeded impatient's timeout of 2500 ms (limits.timeoutMs)" });
    expect(result.trace.children[0]).toMatchObject({ loop: { id: "stall" }, status: "cancelled" });
    expect(result.trace.toolCalls[0]).toMatchObject({ isError: true });
    const client = admin();
    await client.connect();
    try {
      let busy = -1;
      for (let i = 0; i < 100 && busy !== 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from workers, jsonb_array_elements(current_work) w where w->>'runId' = $1`, [result.runId]);
        busy = rows[0]!.n;
      }
      expect(busy).toBe(0);
    } finally {
      await client.end();
    }
  }, 60_000);

  it("runs evaluator loops on the workers: each evaluation is a cluster run, and its own frames are not evaluated — however a caller shapes an input", async () => {
    rt.model.reset();
    await upsertLoopEvaluator(rt.database.db, { loopId: "answerer", evaluatorLoopId: "judge", sampleRate: 1, scoreName: "quality", createdBy: "test" });
    await upsertLoopEvaluator(rt.database.db, { loopId: "judge", evaluatorLoopId: "meta-judge", sampleRate: 1, scoreName: "rigour", createdBy: "test" });
    const client = admin();
    await client.connect();
    const scoresOf = async (frameIds: string[]) =>
      (await client.query<{ frame_id: string; author: string; source: string; name: string; value: number; label: string | null; evaluator_run_id: string }>(
        `select frame_id, author, source, name, value, label, evaluator_run_id from scores where frame_id = any($1::uuid[])`,
        [frameIds],
      )).rows;
    const waitForScores = async (frameIds: string[]) => {
      let found = await scoresOf(frameIds);
      for (let i = 0; i < 200 && found.length < frameIds.length; i++) {
        await new Promise((r) => setTimeout(r, 100));
        found = await scoresOf(frameIds);
      }
      return found;
    };
    try {
      // Several runs, so that evaluations' frames also succeed on workers other than the one that started them.
      const results = await Promise.all(Array.from({ length: 4 }, (_, i) => executor.run("answerer", { question: i }, { identity: operator })));
      expect(results.every((r) => r.status === "succeeded")).toBe(true);
      const evaluated = results.map((r) => r.trace.id);
      const scores = await waitForScores(evaluated);
      expect(scores).toHaveLength(4);
      for (const score of scores) expect(score).toMatchObject({ author: "judge", source: "evaluator", name: "quality", value: 0.75, label: "good" });
      const { rows: evaluations } = await client.query<{ id: string; loop_id: string; status: string; caller: string; input: { frameId: string; loopId: string }; evaluates_frame_id: string }>(
        `select id, loop_id, status, caller, input, evaluates_frame_id from runs where id = any($1::uuid[])`,
        [scores.map((s) => s.evaluator_run_id)],
      );
      expect(evaluations).toHaveLength(4);
      for (const run of evaluations) expect(run).toMatchObject({ loop_id: "judge", status: "succeeded", caller: "olivia", input: { loopId: "answerer" } });
      expect(evaluations.map((r) => r.input.frameId).sort()).toEqual([...evaluated].sort());
      for (const run of evaluations) expect(run.evaluates_frame_id).toBe(run.input.frameId);

      // The judge run on its own is evaluated by the meta-judge: that evaluator works.
      const direct = await executor.run("judge", { question: "direct" }, { identity: operator });
      expect(await waitForScores([direct.trace.id])).toMatchObject([{ author: "meta-judge", name: "rigour", value: 0.5 }]);
      // The judge frames inside the evaluations, which ended before it, were not.
      const { rows: judgeFrames } = await client.query<{ id: string }>(`select id from frames where run_id = any($1::uuid[])`, [evaluations.map((r) => r.id)]);
      expect(judgeFrames).toHaveLength(4);
      expect(await scoresOf(judgeFrames.map((f) => f.id))).toEqual([]);
      // A caller's own run shaped like an evaluation, naming a real frame, is evaluated all the same.
      const lookalike = await executor.run("judge", { input: { question: 0 }, output: "x", loopId: "answerer", frameId: evaluated[0], promptVersion: 1 }, { identity: operator });
      expect(lookalike.status).toBe("succeeded");
      expect(await waitForScores([lookalike.trace.id])).toMatchObject([{ author: "meta-judge", name: "rigour", value: 0.5 }]);
      const { rows: metaRuns } = await client.query<{ n: number }>(`select count(*)::int as n from runs where loop_id = 'meta-judge'`);
      expect(metaRuns[0]!.n).toBe(2);
    } finally {
      await client.end();
    }
  }, 60_000);

  it("stops a worker on SIGTERM after it finishes the steps in hand", async () => {
    rt.model.setLatency(300);
    try {
      const w3 = workers.get("w3")!;
      const runs = await Promise.all(Array.from({ length: 3 }, () => executor.start("tree", {}, { identity: operator })));
      await new Promise((r) => setTimeout(r, 500));
      w3.child.kill("SIGTERM");
      expect((await w3.exited).code).toBe(0);
      expect(w3.output.join("")).toMatch(/worker w3 stopped after \d+ steps/);
      for (const result of await Promise.all(runs.map((r) => r.done))) expect(result.status).toBe("succeeded");
    } finally {
      rt.model.setLatency(0);
    }
  }, 60_000);
});
