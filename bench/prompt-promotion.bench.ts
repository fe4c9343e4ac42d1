/**
 * The prompt promotion benchmark: how long after a promotion commits in one process the next
 * execution in another process runs the promoted version.
 *
 * A worker process (this file, run with `worker`) executes runs of one LLM loop back to back on
 * a fresh PostgreSQL database, as a cluster worker would. This process promotes a new version
 * at a random moment of the worker's cycle, notes the time the commit returned, and reads the
 * start time of the first frame that recorded the new version. The runtime caches nothing, so
 * the gap is the wait for the worker's next frame to begin.
 *
 *   npx tsx bench/prompt-promotion.bench.ts             (alone; prints the section)
 *   npm run bench -- promotion                          (once listed in bench/run.ts)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { and, eq, min } from "drizzle-orm";
import { openDatabase } from "../db/client";
import { frames } from "../db/schema";
import { createDbStore } from "../db/store";
import { createRuntime, type Identity } from "../lib/runtime";
import { createAnthropicModelClient } from "../lib/runtime/anthropic-model-client";
import { createMcpClientFactory } from "../lib/runtime/mcp/client-factory";
import { createScriptedModelServer } from "../lib/scripted-model";
import type { Actor } from "../lib/services/actor";
import { createPromptVersion } from "../lib/services/prompts/create-prompt-version";
import { promotePromptVersion } from "../lib/services/prompts/promote-prompt-version";
import { openTestDatabase } from "../test/database";
import type { Section } from "./report";

const REALM = "bench";
const LOOP_ID = "promoted";
const PROMOTIONS = 40;
const TARGET_MEDIAN_MS = 1000;
/** Promotions land at a random point of the worker's cycle, this far apart. */
const GAP_MS: [number, number] = [40, 160];

const here = fileURLToPath(import.meta.url);
const root = resolve(here, "../..");

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

/** The worker: executes runs of the loop back to back until its stdin closes, then reports. */
async function worker(url: string): Promise<void> {
  const database = await openDatabase({ url, poolSize: 4 });
  const model = createScriptedModelServer({ defaultScript: () => ({ text: "ok" }) });
  const { url: baseURL } = await model.start();
  const runtime = createRuntime({ store: createDbStore(database.db), model: createAnthropicModelClient({ apiKey: "bench", baseURL }), mcp: createMcpClientFactory() });
  const identity = { subject: "bench-worker", groups: [], kind: "service", source: "bench", grants: [{ realm: REALM, role: "operator", via: "bench" }] } as Identity;
  let stopping = false;
  process.stdin.on("end", () => (stopping = true));
  process.stdin.resume();
  const durations: number[] = [];
  let ready = false;
  while (!stopping) {
    const t0 = performance.now();
    await runtime.executor.run(LOOP_ID, { at: Date.now() }, { identity });
    durations.push(performance.now() - t0);
    if (!ready) {
      ready = true;
      process.stdout.write("ready\n");
    }
  }
  durations.sort((a, b) => a - b);
  process.stdout.write(`${JSON.stringify({ runs: durations.length, medianRunMs: quantile(durations, 0.5) })}\n`);
  await runtime.close();
  await model.close();
  await database.close();
}

function startWorker(url: string): { child: ChildProcess; ready: Promise<void>; report: Promise<{ runs: number; medianRunMs: number }> } {
  const child = spawn(process.execPath, ["--import", "tsx", here, "worker", url], { cwd: root, stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  let onReady!: () => void;
  let onReport!: (report: { runs: number; medianRunMs: number }) => void;
  const ready = new Promise<void>((resolveReady) => (onReady = resolveReady));
  const report = new Promise<{ runs: number; medianRunMs: number }>((resolveReport, reject) => {
    onReport = resolveReport;
    child.once("exit", (code) => reject(new Error(`The worker exited with code ${code} before reporting`)));
  });
  lines.on("line", (line) => {
    if (line === "ready") onReady();
    else if (line.startsWith("{")) onReport(JSON.parse(line) as { runs: number; medianRunMs: number });
  });
  return { child, ready, report };
}

export async function benchPromotion(): Promise<Section> {
  const database = await openTestDatabase("postgres");
  const db = database.db;
  let workerProcess: ChildProcess | null = null;
  try {
    const maintainer: Actor = {
      identity: { subject: "bench-maintainer", groups: [], kind: "user", source: "bench" },
      roles: [{ realm: REALM, role: "maintainer", via: "bench" }],
    };
    const setup = createRuntime({ store: createDbStore(db), model: createAnthropicModelClient({ apiKey: "bench", baseURL: "http://127.0.0.1:9" }), mcp: createMcpClientFactory() });
    await setup.registry.register({ id: LOOP_ID, type: "llm", realm: REALM, llm: { model: "claude-bench", systemPrompt: "version 1" } });
    await setup.close();
    for (let n = 2; n <= PROMOTIONS + 1; n++) {
      await createPromptVersion({ db }, maintainer, { loopId: LOOP_ID, systemPrompt: `version ${n}`, model: "claude-bench", maxTokens: 256 });
    }

    const started = startWorker(database.location);
    workerProcess = started.child;
    await started.ready;

    const gaps: number[] = [];
    const commits: number[] = [];
    let clamped = 0;
    for (let version = 2; version <= PROMOTIONS + 1; version++) {
      await new Promise((r) => setTimeout(r, GAP_MS[0] + Math.random() * (GAP_MS[1] - GAP_MS[0])));
      const t0 = performance.now();
      await promotePromptVersion({ db }, maintainer, { loopId: LOOP_ID, version, reason: "benchmark" });
      const committedAt = performance.timeOrigin + performance.now();
      commits.push(performance.now() - t0);
      let firstUse: Date | null = null;
      while (!firstUse) {
        const [row] = await db
          .select({ at: min(frames.startedAt) })
          .from(frames)
          .where(and(eq(frames.loopId, LOOP_ID), eq(frames.promptVersion, version)));
        firstUse = row?.at ?? null;
        if (!firstUse) await new Promise((r) => setTimeout(r, 2));
      }
      // The worker may see the commit a fraction of a millisecond before this process hears back.
      const gap = firstUse.getTime() - committedAt;
      if (gap < 0) clamped++;
      gaps.push(Math.max(0, gap));
    }
    workerProcess.stdin?.end();
    const workerReport = await started.report;
    workerProcess = null;

    gaps.sort((a, b) => a - b);
    commits.sort((a, b) => a - b);
    const median = quantile(gaps, 0.5);
    const p95 = quantile(gaps, 0.95);
    return {
      summary:
        `A worker process executes runs of one LLM loop back to back (scripted model on loopback, no latency) on a fresh ` +
        `PostgreSQL database. This process promotes a new prompt version ${PROMOTIONS} times, ${GAP_MS[0]}–${GAP_MS[1]} ms apart ` +
        `so each lands at a random point of the worker's cycle, and measures from the moment the promotion's commit returned ` +
        `to the recorded start of the first frame in the worker that ran the new version. The executor reads the active ` +
        `version when each frame starts, so the gap is the wait for the worker's next frame.`,
      tables: [
        {
          columns: ["figure", "value"],
          rows: [
            ["promotions", String(gaps.length)],
            ["commit → first use in the other process, median", ms(median)],
            ["commit → first use in the other process, p95", ms(p95)],
            ["commit → first use in the other process, max", ms(gaps.at(-1)!)],
            ["promotion transaction (lock, move, history, audit), median", ms(quantile(commits, 0.5))],
            ["worker run duration, median", ms(workerReport.medianRunMs)],
            ["worker runs during the benchmark", String(workerReport.runs)],
          ],
        },
      ],
      targets: [
        {
          target: `promotion → use by an execution in another process ≤ ${TARGET_MEDIAN_MS / 1000} s (median)`,
          scope: "PostgreSQL on loopback, two processes",
          measured: `${ms(median)} median, ${ms(p95)} p95`,
          met: median <= TARGET_MEDIAN_MS,
        },
      ],
      notes: [
        "Both processes read the same machine clock; frame start times are stored with millisecond precision.",
        ...(clamped > 0 ? [`${clamped} of ${gaps.length} gaps were a fraction below zero (the worker saw the commit before this process heard back) and count as 0 ms.`] : []),
      ],
    };
  } finally {
    workerProcess?.kill();
    await database.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === here) {
  const [mode, url] = process.argv.slice(2);
  if (mode === "worker" && url) {
    await worker(url);
  } else {
    console.log(JSON.stringify(await benchPromotion(), null, 2));
  }
}
