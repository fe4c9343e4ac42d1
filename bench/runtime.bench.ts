/**
 * The runtime benchmark: what running a 200-frame Loop Stack Tree through the executor
 * costs compared with the same model, MCP and HTTP calls made by a bare Anthropic-SDK tool
 * loop in the same process, with the same concurrency.
 *
 * Each database configuration runs in a child process of its own, so that its peak RSS is
 * not inflated by the configuration before it (PGlite keeps its WebAssembly heap until the
 * process exits).
 *
 * For a quicker look while working on the runtime: LOOPSTACKS_BENCH_DATABASES=pglite-memory
 * (comma-separated ids below), LOOPSTACKS_BENCH_RUNS=5, LOOPSTACKS_BENCH_WARMUP=1; to profile the
 * executor runs, LOOPSTACKS_BENCH_PROFILE_DIR=<dir>.
 */
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import inspector from "node:inspector";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Anthropic from "@anthropic-ai/sdk";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import pg from "pg";
import { request as undiciRequest } from "undici";
import { openDatabase, type DatabaseHandle } from "../db/client";
import { createPromptResolver, readPromptStates } from "../db/queries/prompts";
import { addRealmMapping, createRealmRolesReader, getRealmRolesIn } from "../db/queries/realms";
import { createDbStore } from "../db/store";
import { createRuntime, walkTrace, type Identity, type LoopDefinitionInput } from "../lib/runtime";
import { createAnthropicModelClient } from "../lib/runtime/anthropic-model-client";
import { createMcpClientFactory } from "../lib/runtime/mcp/client-factory";
import type { RuntimeStore } from "../lib/runtime/store";
import { createScriptedModelServer, type ScriptFunction } from "../lib/scripted-model";
import { TEST_POSTGRES_URL } from "../test/database";
import { everythingStdioServer } from "../test/mcp-servers";
import type { BenchTarget, Section } from "./report";

const REALM = "bench";
const MODEL = "claude-bench";
const RESEARCHERS = 9;
const ECHOES_PER_RESEARCHER = 10;
const LOOKUPS_PER_RESEARCHER = 11;
/** Root, one HTTP leaf of the root, and per researcher itself plus its leaves. */
const FRAMES = 1 + 1 + RESEARCHERS * (1 + ECHOES_PER_RESEARCHER + LOOKUPS_PER_RESEARCHER);
/** Root: fan-out turn and answer; researcher: echo turn, lookup turn, answer. */
const MODEL_CALLS = 2 + RESEARCHERS * 3;
const LATENCIES_MS = [0, 20];

const TARGET_OVERHEAD_MS = 2;
const TARGET_RATIO = 1.2;
const TARGET_RATIO_LATENCY_MS = 20;

const MEASURED_RUNS = Number(process.env.LOOPSTACKS_BENCH_RUNS ?? 20);
const WARMUP_RUNS = Number(process.env.LOOPSTACKS_BENCH_WARMUP ?? 3);
const RSS_SAMPLE_MS = 10;
/** A pseudo store call: the queries that answered the `getRealmRoles` calls. */
const AUTHORIZATION_QUERIES = "authorization queries";
const PROMPT_QUERIES = "prompt queries";
const SQL_STATEMENTS = "SQL statements";

type ConfigurationId = "pglite-memory" | "pglite-disk" | "postgres";

const CONFIGURATIONS: { id: ConfigurationId; label: string }[] = [
  { id: "pglite-memory", label: "PGlite, in memory" },
  { id: "pglite-disk", label: "PGlite, data directory (embedded default)" },
  { id: "postgres", label: "PostgreSQL, loopback" },
];

interface LatencyMeasurement {
  latencyMs: number;
  bareMs: number[];
  /** The bare loop with undici's request API for its HTTP calls, the client the runtime's HTTP loops use. */
  bareUndiciMs: number[];
  executorMs: number[];
  /** CPU time of this process (user + system) per run. */
  bareCpuMs: number[];
  bareUndiciCpuMs: number[];
  executorCpuMs: number[];
  rssBeforeBytes: number;
  rssPeakBareBytes: number;
  rssPeakExecutorBytes: number;
}

interface ConfigurationResult {
  id: ConfigurationId;
  database: string;
  rssAfterSetupBytes: number;
  measurements: LatencyMeasurement[];
  /** Store calls in one executor run, by method. */
  storeCalls: Record<string, number>;
}

type Outcome = { ok: true; result: ConfigurationResult } | { ok: false; id: ConfigurationId; reason: string };

// ---------------------------------------------------------------------------------------------
// The tree: bench-root fans out to 9 researchers and one HTTP leaf in its first turn; each
// researcher calls 10 MCP echoes in one turn, then 11 HTTP lookups in the next, then answers.

const researcherInputSchema = { type: "object" as const, properties: { topic: { type: "string" } }, required: ["topic"] };
const echoInputSchema = { type: "object" as const, properties: { message: { type: "string" } }, required: ["message"] };
const lookupInputSchema = { type: "object" as const, properties: { q: { type: "string" } }, required: ["q"] };

const ROOT_SYSTEM = "Research every topic, then write the report.";
const RESEARCHER_SYSTEM = "Collect notes on the topic, look up records, then summarise.";

const rootTools: Anthropic.Tool[] = [
  { name: "research", description: "Researches one topic", input_schema: researcherInputSchema },
  { name: "notify", description: "Looks up a record", input_schema: lookupInputSchema },
];
const researcherTools: Anthropic.Tool[] = [
  { name: "echo", description: "Echoes a note", input_schema: echoInputSchema },
  { name: "lookup", description: "Looks up a record", input_schema: lookupInputSchema },
];

function loopDefinitions(httpUrl: string): LoopDefinitionInput[] {
  return [
    { id: "bench-echo", type: "mcp", realm: REALM, inputSchema: echoInputSchema, mcp: { server: everythingStdioServer(), tool: "echo" } },
    {
      id: "bench-lookup",
      type: "http",
      realm: REALM,
      inputSchema: lookupInputSchema,
      http: { method: "GET", url: `${httpUrl}/lookup?q={{input.q}}`, response: { pick: "data" } },
    },
    {
      id: "bench-researcher",
      type: "llm",
      realm: REALM,
      inputSchema: researcherInputSchema,
      llm: {
        model: MODEL,
        systemPrompt: RESEARCHER_SYSTEM,
        tools: [
          { name: "echo", description: "Echoes a note", loopRef: "bench-echo" },
          { name: "lookup", description: "Looks up a record", loopRef: "bench-lookup" },
        ],
      },
    },
    {
      id: "bench-root",
      type: "llm",
      realm: REALM,
      llm: {
        model: MODEL,
        systemPrompt: ROOT_SYSTEM,
        tools: [
          { name: "research", description: "Researches one topic", loopRef: "bench-researcher" },
          { name: "notify", description: "Looks up a record", loopRef: "bench-lookup" },
        ],
      },
    },
  ];
}

const rootScript: ScriptFunction = (_request, { turn }) =>
  turn === 0
    ? {
        toolUses: [
          ...Array.from({ length: RESEARCHERS }, (_, i) => ({ name: "research", input: { topic: `topic-${i}` } })),
          { name: "notify", input: { q: "report-started" } },
        ],
      }
    : { text: "Report: every topic researched." };

const researcherScript: ScriptFunction = (request, { turn }) => {
  const first = request.messages[0]?.content;
  const topic = typeof first === "string" ? (JSON.parse(first) as { topic: string }).topic : "unknown";
  if (turn === 0) {
    return { toolUses: Array.from({ length: ECHOES_PER_RESEARCHER }, (_, i) => ({ name: "echo", input: { message: `${topic} note ${i}` } })) };
  }
  if (turn === 1) {
    return { toolUses: Array.from({ length: LOOKUPS_PER_RESEARCHER }, (_, i) => ({ name: "lookup", input: { q: `${topic}-${i}` } })) };
  }
  return { text: `Summary of ${topic}.` };
};

const ROOT_INPUT = { task: "quarterly research report" };

// ---------------------------------------------------------------------------------------------
// The baseline: the same conversations with the SDK, MCP client and fetch, nothing recorded.

interface BareDeps {
  anthropic: Anthropic;
  mcp: Client;
  httpUrl: string;
  /** How the HTTP calls are made: `fetch`, or undici's request API (the runtime's HTTP client). */
  http: "fetch" | "undici";
}

type ToolUse = Anthropic.ToolUseBlock;

async function bareConversation(
  deps: BareDeps,
  loopId: string,
  system: string,
  tools: Anthropic.Tool[],
  input: unknown,
  runTool: (use: ToolUse) => Promise<string>,
): Promise<string> {
  // The executor renders an object input the same way.
  const messages: Anthropic.MessageParam[] = [{ role: "user", content: JSON.stringify(input, null, 2) }];
  const frameId = randomUUID();
  for (;;) {
    const response = await deps.anthropic.messages.create(
      { model: MODEL, max_tokens: 1024, system, messages, tools },
      { headers: { "x-loopstacks-loop-id": loopId, "x-loopstacks-frame-id": frameId } },
    );
    messages.push({ role: "assistant", content: response.content });
    if (response.stop_reason !== "tool_use") {
      return response.content.flatMap((block) => (block.type === "text" ? [block.text] : [])).join("");
    }
    const uses = response.content.filter((block): block is ToolUse => block.type === "tool_use");
    const results = await Promise.all(
      uses.map(async (use): Promise<Anthropic.ToolResultBlockParam> => ({ type: "tool_result", tool_use_id: use.id, content: await runTool(use) })),
    );
    messages.push({ role: "user", content: results });
  }
}

async function bareLookup(deps: BareDeps, input: unknown): Promise<string> {
  const { q } = input as { q: string };
  const url = `${deps.httpUrl}/lookup?q=${encodeURIComponent(q)}`;
  if (deps.http === "undici") {
    const response = await undiciRequest(url);
    if (response.statusCode !== 200) throw new Error(`lookup answered HTTP ${response.statusCode}`);
    return JSON.stringify(((await response.body.json()) as { data: unknown }).data);
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`lookup answered HTTP ${response.status}`);
  return JSON.stringify(((await response.json()) as { data: unknown }).data);
}

async function bareEcho(deps: BareDeps, input: unknown): Promise<string> {
  const result = await deps.mcp.callTool({ name: "echo", arguments: input as Record<string, unknown> });
  return (result.content as { type: string; text?: string }[]).map((block) => block.text ?? "").join("\n");
}

function bareRun(deps: BareDeps): Promise<string> {
  const researcher = (input: unknown) =>
    bareConversation(deps, "bench-researcher", RESEARCHER_SYSTEM, researcherTools, input, (use) =>
      use.name === "echo" ? bareEcho(deps, use.input) : bareLookup(deps, use.input),
    );
  return bareConversation(deps, "bench-root", ROOT_SYSTEM, rootTools, ROOT_INPUT, (use) =>
    use.name === "research" ? researcher(use.input) : bareLookup(deps, use.input),
  );
}

// ---------------------------------------------------------------------------------------------
// One configuration, in its own process.

function startLookupServer(counter: { hits: number }): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    counter.hits++;
    const q = new URL(req.url ?? "/", "http://lookup").searchParams.get("q");
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ data: { q, records: [`record for ${q}`] } }));
  });
  return new Promise((resolveStart) =>
    server.listen(0, "127.0.0.1", () => resolveStart({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })),
  );
}

async function openBenchDatabase(id: ConfigurationId): Promise<{ database: DatabaseHandle; label: string; cleanup(): Promise<void> }> {
  if (id === "pglite-memory") {
    const database = await openDatabase({ dataDir: "memory://" });
    return { database, label: "PGlite in memory", cleanup: async () => {} };
  }
  if (id === "pglite-disk") {
    const dir = mkdtempSync(join(os.tmpdir(), "loopstacks-bench-"));
    const database = await openDatabase({ dataDir: join(dir, "pgdata") });
    return { database, label: "PGlite data directory", cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `loopstacks_bench_${randomBytes(6).toString("hex")}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await client.connect();
    try {
      return await client.query<Record<string, string>>(sql);
    } finally {
      await client.end();
    }
  };
  const version = (await admin("show server_version")).rows[0]?.server_version ?? "?";
  await admin(`create database ${name}`);
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  // The product's default pool size, not the tests' smaller one.
  const database = await openDatabase({ url: url.toString() });
  return {
    database,
    label: `PostgreSQL ${version.split(" ")[0]} on loopback`,
    cleanup: async () => {
      await admin(`drop database if exists ${name} with (force)`);
    },
  };
}

/** Counts the SQL statements sent to the database (a trace batch sent to PGlite's thread is one), until stopped. */
function countStatements(database: DatabaseHandle, counts: Record<string, number>): () => void {
  const target = (database.pool ?? database.pglite) as unknown as Record<string, (...args: unknown[]) => unknown>;
  const methods = database.pool ? ["query"] : ["query", "exec", "writeTraceBatch"];
  const originals = methods.map((name) => [name, target[name]!] as const);
  for (const [name, original] of originals) {
    target[name] = (...args: unknown[]) => {
      counts[SQL_STATEMENTS] = (counts[SQL_STATEMENTS] ?? 0) + 1;
      return original.apply(target, args);
    };
  }
  return () => {
    for (const [name, original] of originals) target[name] = original;
  };
}

/** Counts the runtime's store calls, for extra runs outside the measurements. */
function countingStore(store: RuntimeStore, counts: Record<string, number>): RuntimeStore {
  const counted = { ...store };
  for (const key of Object.keys(store) as (keyof RuntimeStore)[]) {
    const method = store[key] as (...args: unknown[]) => unknown;
    (counted as Record<string, unknown>)[key] = (...args: unknown[]) => {
      counts[key] = (counts[key] ?? 0) + 1;
      return method(...args);
    };
  }
  return counted;
}

function createRssSampler() {
  let phase: "idle" | "bare" | "executor" = "idle";
  const peaks = { bare: 0, executor: 0 };
  const sample = () => {
    if (phase !== "idle") peaks[phase] = Math.max(peaks[phase], process.memoryUsage.rss());
  };
  const timer = setInterval(sample, RSS_SAMPLE_MS);
  return {
    enter(next: "bare" | "executor") {
      phase = next;
      sample();
    },
    leave() {
      sample();
      phase = "idle";
    },
    reset() {
      peaks.bare = 0;
      peaks.executor = 0;
    },
    peaks,
    stop: () => clearInterval(timer),
  };
}

interface Timing {
  wallMs: number;
  cpuMs: number;
}

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

/**
 * With LOOPSTACKS_BENCH_PROFILE_DIR set, every executor run and every bare run on undici is
 * CPU-profiled (V8's sampling profiler) into that directory, one `.cpuprofile` per run named
 * after its kind, so that the two can be compared function by function.
 */
function createRunProfiler(dir: string | undefined, kind: string): { start(): Promise<void>; stop(): Promise<void> } | null {
  if (!dir) return null;
  mkdirSync(dir, { recursive: true });
  const session = new inspector.Session();
  session.connect();
  const post = <T>(method: string, params?: object) =>
    new Promise<T>((resolvePost, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolvePost(result as T))));
  let count = 0;
  return {
    async start() {
      await post("Profiler.enable");
      await post("Profiler.setSamplingInterval", { interval: 200 });
      await post("Profiler.start");
    },
    async stop() {
      const { profile } = await post<{ profile: unknown }>("Profiler.stop");
      writeFileSync(join(dir, `${kind}-${process.pid}-${++count}.cpuprofile`), JSON.stringify(profile));
    },
  };
}

function collectGarbage(): void {
  globalThis.gc?.();
}

async function measureConfiguration(id: ConfigurationId): Promise<ConfigurationResult> {
  const log = (message: string) => console.error(`bench runtime [${id}] ${message}`);
  const { database, label, cleanup } = await openBenchDatabase(id);
  // Migrated before the store is made, as \`loopstacks start\` does: on PGlite, the store then keeps
  // loops, prompt states and realm roles between reads (the change feed needs the migrated triggers).
  await database.migrate();
  const lookups = { hits: 0 };
  const lookup = await startLookupServer(lookups);
  const model = createScriptedModelServer();
  const { url: modelUrl } = await model.start();
  const store = createDbStore(database.db);
  const runtime = createRuntime({
    store,
    model: createAnthropicModelClient({ apiKey: "bench-key", baseURL: modelUrl }),
    mcp: createMcpClientFactory(),
  });
  const mcpServer = everythingStdioServer();
  const mcp = new Client({ name: "bench-bare", version: "1" });
  const bare: BareDeps = {
    anthropic: new Anthropic({ apiKey: "bench-key", authToken: null, baseURL: modelUrl, maxRetries: 0 }),
    mcp,
    httpUrl: lookup.url,
    http: "fetch",
  };
  const sampler = createRssSampler();
  const profiler = createRunProfiler(process.env.LOOPSTACKS_BENCH_PROFILE_DIR, "executor");
  const bareProfiler = createRunProfiler(process.env.LOOPSTACKS_BENCH_PROFILE_DIR, "bare-undici");
  try {
    await mcp.connect(new StdioClientTransport({ command: mcpServer.command, args: mcpServer.args, env: getDefaultEnvironment(), stderr: "ignore" }));
    await runtime.registry.registerMany(loopDefinitions(lookup.url));
    const group = "cn=bench-operators,ou=groups,dc=bench";
    await addRealmMapping(database.db, { realmId: REALM, groupDn: group, role: "operator", createdBy: "bench" });
    const identity: Identity = { subject: "bench", groups: [group], kind: "user", source: "bench" };
    model.setScript("bench-root", rootScript);
    model.setScript("bench-researcher", researcherScript);

    const runExecutor = async (executor = runtime.executor): Promise<Timing> => {
      model.reset();
      lookups.hits = 0;
      collectGarbage();
      sampler.enter("executor");
      await profiler?.start();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const result = await executor.run("bench-root", ROOT_INPUT, { identity });
      const timing = { wallMs: performance.now() - t0, cpuMs: cpuMs(process.cpuUsage(cpu0)) };
      await profiler?.stop();
      sampler.leave();
      const frames = [...walkTrace(result.trace)];
      if (result.status !== "succeeded" || frames.length !== FRAMES || frames.some((f) => f.status !== "succeeded")) {
        const failed = frames.find((f) => f.status !== "succeeded");
        throw new Error(`The executor run did not succeed with ${FRAMES} frames: ${result.status}, ${frames.length} frames, ${JSON.stringify(failed?.error ?? result.error)}`);
      }
      checkCalls("executor", model.requests.length, lookups.hits);
      return timing;
    };
    const runBare = async (http: BareDeps["http"] = "fetch"): Promise<Timing> => {
      model.reset();
      lookups.hits = 0;
      collectGarbage();
      sampler.enter("bare");
      if (http === "undici") await bareProfiler?.start();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await bareRun({ ...bare, http });
      const timing = { wallMs: performance.now() - t0, cpuMs: cpuMs(process.cpuUsage(cpu0)) };
      if (http === "undici") await bareProfiler?.stop();
      sampler.leave();
      checkCalls("bare loop", model.requests.length, lookups.hits);
      return timing;
    };

    collectGarbage();
    const rssAfterSetupBytes = process.memoryUsage.rss();
    const measurements: LatencyMeasurement[] = [];
    for (const latencyMs of LATENCIES_MS) {
      model.setLatency(latencyMs);
      for (let i = 0; i < WARMUP_RUNS; i++) {
        await runBare();
        await runBare("undici");
        await runExecutor();
      }
      collectGarbage();
      const rssBeforeBytes = process.memoryUsage.rss();
      sampler.reset();
      const bareTimings: Timing[] = [];
      const bareUndiciTimings: Timing[] = [];
      const executorTimings: Timing[] = [];
      const runs: (() => Promise<void>)[] = [
        async () => void bareTimings.push(await runBare()),
        async () => void bareUndiciTimings.push(await runBare("undici")),
        async () => void executorTimings.push(await runExecutor()),
      ];
      for (let i = 0; i < MEASURED_RUNS; i++) {
        // Rotating the order keeps drift (a neighbour's load, a growing database) out of the comparison.
        for (let k = 0; k < runs.length; k++) await runs[(i + k) % runs.length]!();
      }
      const bareMs = bareTimings.map((t) => t.wallMs);
      const executorMs = executorTimings.map((t) => t.wallMs);
      measurements.push({
        latencyMs,
        bareMs,
        bareUndiciMs: bareUndiciTimings.map((t) => t.wallMs),
        executorMs,
        bareCpuMs: bareTimings.map((t) => t.cpuMs),
        bareUndiciCpuMs: bareUndiciTimings.map((t) => t.cpuMs),
        executorCpuMs: executorTimings.map((t) => t.cpuMs),
        rssBeforeBytes,
        rssPeakBareBytes: sampler.peaks.bare,
        rssPeakExecutorBytes: sampler.peaks.executor,
      });
      log(`${latencyMs} ms: bare ${median(bareMs).toFixed(1)} ms (undici ${median(bareUndiciTimings.map((t) => t.wallMs)).toFixed(1)} ms), executor ${median(executorMs).toFixed(1)} ms`);
    }
    const storeCalls: Record<string, number> = {};
    // Authorization reads made together share one query: count the queries as well as the calls.
    const countedReads = createRealmRolesReader(database.db, (db, realmIds, groups) => {
      storeCalls[AUTHORIZATION_QUERIES] = (storeCalls[AUTHORIZATION_QUERIES] ?? 0) + 1;
      return getRealmRolesIn(db, realmIds, groups);
    });
    // So do prompt reads.
    const countedPrompts = createPromptResolver(database.db, (db, loopIds) => {
      storeCalls[PROMPT_QUERIES] = (storeCalls[PROMPT_QUERIES] ?? 0) + 1;
      return readPromptStates(db, loopIds);
    });
    const countingStoreView = countingStore({ ...store, getRealmRoles: countedReads, resolvePrompt: countedPrompts }, storeCalls);
    const counting = createRuntime({ store: countingStoreView, model: createAnthropicModelClient({ apiKey: "bench-key", baseURL: modelUrl }), mcp: createMcpClientFactory() });
    const stopCountingStatements = countStatements(database, storeCalls);
    try {
      // The first run fills what the store keeps between runs (PGlite); the second is counted, as the measured runs ran.
      await runExecutor(counting.executor);
      for (const key of Object.keys(storeCalls)) delete storeCalls[key];
      await runExecutor(counting.executor);
    } finally {
      stopCountingStatements();
      await counting.close();
    }
    return { id, database: label, rssAfterSetupBytes, measurements, storeCalls };
  } finally {
    sampler.stop();
    await runtime.close();
    await mcp.close();
    await model.close();
    lookup.server.closeAllConnections();
    lookup.server.close();
    await database.close();
    await cleanup();
  }
}

function checkCalls(who: string, modelCalls: number, httpCalls: number): void {
  const expectedHttp = 1 + RESEARCHERS * LOOKUPS_PER_RESEARCHER;
  if (modelCalls !== MODEL_CALLS || httpCalls !== expectedHttp) {
    throw new Error(`The ${who} made ${modelCalls} model calls and ${httpCalls} HTTP calls; expected ${MODEL_CALLS} and ${expectedHttp}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The parent: one child process per configuration, then the figures.

function median(values: number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = values.toSorted((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`;
const mib = (bytes: number) => `${Math.round(bytes / 1024 ** 2)} MiB`;

function runInChildProcess(id: ConfigurationId): Promise<Outcome> {
  const dir = mkdtempSync(join(os.tmpdir(), "loopstacks-bench-result-"));
  const resultFile = join(dir, "result.json");
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), id, resultFile], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.once("exit", (code) => {
      try {
        resolveRun(JSON.parse(readFileSync(resultFile, "utf8")) as Outcome);
      } catch {
        resolveRun({ ok: false, id, reason: `the benchmark process exited with code ${code} and no result` });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

export async function benchRuntime(): Promise<Section> {
  const only = process.env.LOOPSTACKS_BENCH_DATABASES?.split(",");
  const outcomes: Outcome[] = [];
  for (const configuration of CONFIGURATIONS) {
    if (only && !only.includes(configuration.id)) continue;
    console.error(`bench runtime: ${configuration.label}`);
    outcomes.push(await runInChildProcess(configuration.id));
  }

  const wallRows: string[][] = [];
  const resourceRows: string[][] = [];
  const targets: BenchTarget[] = [];
  const notes: string[] = [];
  for (const outcome of outcomes) {
    if (!outcome.ok) {
      notes.push(`${CONFIGURATIONS.find((c) => c.id === outcome.id)?.label}: not measured — ${outcome.reason}`);
      continue;
    }
    const { result } = outcome;
    for (const m of result.measurements) {
      // Against each baseline, paired by round: the executor run and the bare runs of one round ran back to back.
      const against = (bare: number[]) => ({
        overheadPerFrame: m.executorMs.map((executor, i) => (executor - bare[i]!) / FRAMES),
        ratios: m.executorMs.map((executor, i) => executor / bare[i]!),
      });
      const fetchBaseline = against(m.bareMs);
      const undiciBaseline = against(m.bareUndiciMs);
      const cpuPerFrame = m.executorCpuMs.map((executor, i) => (executor - m.bareUndiciCpuMs[i]!) / FRAMES);
      const scope = `${result.database}, ${m.latencyMs} ms`;
      wallRows.push([
        result.database,
        `${m.latencyMs} ms`,
        `${ms(median(m.bareMs))} / ${ms(median(m.bareUndiciMs))}`,
        `${ms(median(m.executorMs))} / ${ms(percentile(m.executorMs, 95))}`,
        `${ms(median(fetchBaseline.overheadPerFrame))} / ${ms(median(undiciBaseline.overheadPerFrame))}`,
        `${ms(percentile(undiciBaseline.overheadPerFrame, 95))}`,
        `${median(fetchBaseline.ratios).toFixed(2)} / ${median(undiciBaseline.ratios).toFixed(2)}`,
      ]);
      resourceRows.push([
        result.database,
        `${m.latencyMs} ms`,
        `${ms(median(m.bareCpuMs))} / ${ms(median(m.bareUndiciCpuMs))} / ${ms(median(m.executorCpuMs))}`,
        ms(median(cpuPerFrame)),
        `${mib(m.rssBeforeBytes)} → ${mib(m.rssPeakExecutorBytes)}`,
        mib(m.rssPeakBareBytes),
      ]);
      targets.push({
        target: `overhead ≤ ${TARGET_OVERHEAD_MS} ms per frame (median), trace persisted, against the bare loop on undici`,
        scope,
        measured: ms(median(undiciBaseline.overheadPerFrame)),
        met: median(undiciBaseline.overheadPerFrame) <= TARGET_OVERHEAD_MS,
      });
      if (m.latencyMs === TARGET_RATIO_LATENCY_MS) {
        for (const [baseline, { ratios }] of [["fetch", fetchBaseline], ["undici", undiciBaseline]] as const) {
          targets.push({
            target: `wall-time ratio ≤ ${TARGET_RATIO} at ${TARGET_RATIO_LATENCY_MS} ms model latency, against the bare loop on ${baseline}`,
            scope,
            measured: median(ratios).toFixed(2),
            met: median(ratios) <= TARGET_RATIO,
          });
        }
      }
    }
    notes.push(`${result.database}: RSS ${mib(result.rssAfterSetupBytes)} after setup (database open and migrated, MCP server connected).`);
  }
  for (const outcome of outcomes) {
    if (!outcome.ok) continue;
    const { [AUTHORIZATION_QUERIES]: authorizationQueries = 0, [PROMPT_QUERIES]: promptQueries = 0, [SQL_STATEMENTS]: statements = 0, ...calls } = outcome.result.storeCalls;
    const total = Object.values(calls).reduce((sum, n) => sum + n, 0);
    const queries: Record<string, number> = { getRealmRoles: authorizationQueries, resolvePrompt: promptQueries };
    const listed = Object.entries(calls)
      .toSorted(([, a], [, b]) => b - a)
      .map(([name, n]) => (queries[name] !== undefined ? `${name} ${n} (${queries[name]} queries)` : `${name} ${n}`))
      .join(", ");
    notes.push(
      `${outcome.result.database}: store calls in one executor run (${total}): ${listed}; ${statements} SQL statements sent, ${(statements / FRAMES).toFixed(2)} per frame.`,
    );
  }
  notes.push(
    "How the store keeps statements few: the authorization and prompt reads of frames dispatched together share one query; " +
      "a trace batch writes frames, tool calls and conversation turns in one statement, and the last one of a run ends the run in it too; the run's start and its audit event are one statement. " +
      "On PGlite, loops, prompt states and realm roles are also kept between reads until the database announces a change to their tables " +
      "(this process is the database's only one, and hears of each change before its writer is told it is done), " +
      "and trace batches are built and written on the database's own thread.",
  );

  return {
    summary: [
      `One run is a tree of ${FRAMES} frames: \`bench-root\` (LLM) calls ${RESEARCHERS} \`bench-researcher\` LLM loops and one HTTP leaf in one turn;`,
      `each researcher calls ${ECHOES_PER_RESEARCHER} MCP \`echo\` leaves (server-everything over stdio) in one turn and ${LOOKUPS_PER_RESEARCHER} HTTP leaves (a local server) in the next, then answers —`,
      `${MODEL_CALLS} model calls to the scripted model server, ${RESEARCHERS * ECHOES_PER_RESEARCHER} MCP calls and ${1 + RESEARCHERS * LOOKUPS_PER_RESEARCHER} HTTP calls.`,
      "The **bare** loop makes exactly these calls with the Anthropic SDK, the MCP SDK client and `fetch`, in the same process,",
      "with the same messages and the same concurrency (`Promise.all` per turn), and records nothing;",
      "it runs twice per round, once with `fetch` for its HTTP calls, as hand-written code would, and once with undici's request API,",
      "the client the runtime's HTTP loops use, so that the comparison on undici measures the runtime alone.",
      "The **executor** run is `executor.run()` of `createRuntime` (the runtime core in this process, as `LOOPSTACKS_EXECUTION=direct` runs it) end to end:",
      "loop and prompt lookups, authorization of every frame, input validation,",
      "the trace persisted as it happens (frames, tool calls, every conversation turn), all of it written before the run returns its result with the trace.",
      `Per configuration and latency: ${WARMUP_RUNS} warm-up rounds, then ${MEASURED_RUNS} measured rounds of the three runs in rotating order, each run after a forced GC.`,
      `Overhead per frame = (executor − bare) / ${FRAMES}, paired per round; the wall ratio is the median of paired ratios; percentiles are nearest-rank.`,
      "CPU is this process's user + system time, a steadier measure than wall time when other work shares the machine:",
      "for PGlite it includes the database's own thread (PGlite runs in a worker thread of this process); for PostgreSQL it leaves out the server's CPU.",
      `RSS is this process's (sampled every ${RSS_SAMPLE_MS} ms), not the MCP server's; each database configuration runs in a fresh process.`,
    ].join(" "),
    tables: [
      {
        caption: "Wall time",
        columns: [
          "database",
          "model latency",
          "bare on fetch / on undici (median)",
          "executor (median / p95)",
          "overhead per frame against fetch / undici (median)",
          "overhead per frame against undici (p95)",
          "ratio against fetch / undici",
        ],
        rows: wallRows,
      },
      {
        caption: "CPU and memory of the benchmark process",
        columns: [
          "database",
          "model latency",
          "CPU per run, bare on fetch / on undici / executor (median)",
          "CPU overhead per frame against undici (median)",
          "RSS before → peak, executor runs",
          "RSS peak, bare runs",
        ],
        rows: resourceRows,
      },
    ],
    targets,
    notes,
  };
}

async function workerMain(id: ConfigurationId, resultFile: string): Promise<void> {
  let outcome: Outcome;
  try {
    outcome = { ok: true, result: await measureConfiguration(id) };
  } catch (error) {
    console.error(error);
    outcome = { ok: false, id, reason: error instanceof Error ? error.message : String(error) };
  }
  writeFileSync(resultFile, JSON.stringify(outcome));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [id, resultFile] = process.argv.slice(2);
  if (!CONFIGURATIONS.some((c) => c.id === id) || !resultFile) {
    console.error(`usage: node --expose-gc --import tsx bench/runtime.bench.ts <${CONFIGURATIONS.map((c) => c.id).join("|")}> <result.json>`);
    process.exit(2);
  }
  await workerMain(id as ConfigurationId, resultFile);
  // Stray handles (an MCP child closing slowly) must not keep the worker alive.
  process.exit(0);
}
