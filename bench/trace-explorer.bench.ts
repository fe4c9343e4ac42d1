/**
 * The large-trace benchmark: how long the trace explorer takes to become interactive on
 * generated traces of 1,000, 5,000 and 10,000 frames, and how much JavaScript heap the page
 * holds, in Debian's Chromium against a production build.
 *
 *   npm run bench -- trace-explorer             (writes its section of docs/BENCHMARKS.md)
 *   npx tsx bench/trace-explorer.bench.ts       (alone; prints the figures)
 *
 * It builds the app when `.next` holds no build with the benchmark page (set
 * LOOPSTACKS_BENCH_REBUILD=1 to force a fresh build), starts `next start` on a free port with
 * LOOPSTACKS_BENCH_PAGES=true and a throw-away data directory, and drives /bench/trace.
 * LOOPSTACKS_BENCH_BASE_URL measures a server that is already running instead.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright";
import { renderTable, type BenchTable, type Section } from "./report";

const root = resolve(fileURLToPath(import.meta.url), "../..");
const SIZES = [1_000, 5_000, 10_000];
const RUNS = Number(process.env.LOOPSTACKS_BENCH_RUNS ?? 3);
const TARGET_MS = 2_500;
const TARGET_FRAMES = 10_000;
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
// The benchmark page reads no data and needs no session, but the proxy's fast path sends
// cookie-less visitors to the login page before any page runs.
const SESSION_COOKIE = "authjs.session-token";

interface Measurement {
  /** Navigation start → first frame node attached and visible. */
  paintedMs: number;
  /** Navigation start → a click on a node has put the inspector's heading on screen. */
  interactiveMs: number;
  /** Click on a "+N" toggle → the subtree is laid out and rendered. */
  expandMs: number;
  /** JavaScript heap in use at interactive, and after a full garbage collection. */
  heapBytes: number;
  retainedBytes: number;
  mountedNodes: number;
  htmlBytes: number;
}

const nextBin = () => join(root, "node_modules/next/dist/bin/next");

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ["ignore", "inherit", "inherit"] });
    child.once("error", fail);
    child.once("exit", (code) => (code === 0 ? done() : fail(new Error(`${args.join(" ")} exited with ${code}`))));
  });
}

function hasBenchBuild(): boolean {
  const manifest = join(root, ".next/app-path-routes-manifest.json");
  if (!existsSync(join(root, ".next/BUILD_ID")) || !existsSync(manifest)) return false;
  const routes = JSON.parse(readFileSync(manifest, "utf8")) as Record<string, string>;
  return Object.values(routes).includes("/bench/trace");
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? done(address.port) : fail(new Error("no port"))));
    });
  });
}

async function waitForServer(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`next start exited with ${child.exitCode}`);
    try {
      const response = await fetch(url, { headers: { cookie: `${SESSION_COOKIE}=bench` }, redirect: "manual" });
      if (response.status === 200) return;
      if (response.status === 404) throw new Error("The benchmark page answered 404: is LOOPSTACKS_BENCH_PAGES passed through?");
    } catch (error) {
      if (error instanceof Error && error.message.includes("404")) throw error;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

interface Server {
  baseUrl: string;
  close(): Promise<void>;
}

async function startServer(): Promise<Server> {
  const external = process.env.LOOPSTACKS_BENCH_BASE_URL;
  if (external) return { baseUrl: external.replace(/\/$/, ""), close: async () => {} };

  const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };
  if (process.env.LOOPSTACKS_BENCH_REBUILD === "1" || !hasBenchBuild()) {
    console.error("bench: trace-explorer: building the app (next build)…");
    await run(process.execPath, [nextBin(), "build"], env);
  }
  const port = await freePort();
  const dataDir = mkdtempSync(join(os.tmpdir(), "loopstacks-trace-bench-"));
  const child = spawn(process.execPath, [nextBin(), "start", "-p", String(port), "-H", "127.0.0.1"], {
    cwd: root,
    env: { ...env, NODE_ENV: "production", LOOPSTACKS_BENCH_PAGES: "true", LOOPSTACKS_DATA_DIR: dataDir },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const close = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForServer(`${baseUrl}/bench/trace?frames=10`, child, 120_000);
  } catch (error) {
    await close();
    throw error;
  }
  return { baseUrl, close };
}

async function measure(browser: Browser, baseUrl: string, frames: number): Promise<Measurement> {
  const url = `${baseUrl}/bench/trace?frames=${frames}`;
  // A fresh context each time: nothing cached from the run before.
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  await context.addCookies([{ name: SESSION_COOKIE, value: "bench", url: baseUrl }]);
  const page = await context.newPage();
  try {
    const cdp = await context.newCDPSession(page);
    await cdp.send("Performance.enable");

    const started = performance.now();
    await page.goto(url, { waitUntil: "commit" });
    const nodeButtons = page.locator(".react-flow__node [data-frame-button]");
    await nodeButtons.first().waitFor({ state: "visible", timeout: 120_000 });
    const paintedMs = performance.now() - started;

    // A child of the root: the click a person makes first.
    const target = nodeButtons.nth(1);
    const label = (await target.getAttribute("aria-label")) ?? "";
    const loopId = label.split(" ")[0]!;
    await target.click();
    await page.getByRole("complementary", { name: "Frame inspector" }).getByRole("heading", { name: loopId, exact: true }).waitFor({ timeout: 120_000 });
    const interactiveMs = performance.now() - started;

    const { metrics } = (await cdp.send("Performance.getMetrics")) as { metrics: { name: string; value: number }[] };
    const heapBytes = metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? Number.NaN;
    await cdp.send("HeapProfiler.collectGarbage");
    const after = (await cdp.send("Performance.getMetrics")) as { metrics: { name: string; value: number }[] };
    const retainedBytes = after.metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? Number.NaN;
    const mountedNodes = await page.locator(".react-flow__node").count();
    const htmlBytes = await page.evaluate(() => (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming).decodedBodySize);

    const toggle = page.locator('.react-flow__node button[aria-expanded="false"]').first();
    let expandMs = Number.NaN;
    if ((await toggle.count()) > 0) {
      const nodeId = await toggle.evaluate((button) => button.closest<HTMLElement>(".react-flow__node")?.dataset.id ?? "");
      const expandStarted = performance.now();
      await toggle.click();
      await page.locator(`.react-flow__node[data-id="${nodeId}"] button[aria-expanded="true"]`).waitFor();
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r))));
      expandMs = performance.now() - expandStarted;
    }
    return { paintedMs, interactiveMs, expandMs, heapBytes, retainedBytes, mountedNodes, htmlBytes };
  } finally {
    await context.close();
  }
}

function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

export async function benchTraceExplorer(): Promise<Section> {
  const server = await startServer();
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  const results = new Map<number, Measurement[]>();
  try {
    // One discarded visit per size warms the server (route modules, the generator) and Chromium.
    for (const frames of SIZES) await measure(browser, server.baseUrl, frames);
    for (const frames of SIZES) {
      const runs: Measurement[] = [];
      for (let i = 0; i < RUNS; i++) {
        runs.push(await measure(browser, server.baseUrl, frames));
        console.error(`bench: trace-explorer: ${frames} frames, run ${i + 1}: interactive ${seconds(runs.at(-1)!.interactiveMs)}`);
      }
      results.set(frames, runs);
    }
  } finally {
    await browser.close();
    await server.close();
  }

  const rows = SIZES.map((frames) => {
    const runs = results.get(frames)!;
    const pick = (key: keyof Measurement) => median(runs.map((r) => r[key]));
    return {
      frames,
      interactiveMs: pick("interactiveMs"),
      row: [
        frames.toLocaleString("en"),
        seconds(pick("paintedMs")),
        seconds(pick("interactiveMs")),
        runs.map((r) => seconds(r.interactiveMs)).join(", "),
        mib(pick("heapBytes")),
        mib(pick("retainedBytes")),
        String(Math.round(pick("mountedNodes"))),
        `${Math.round(pick("expandMs"))} ms`,
        mib(pick("htmlBytes")),
      ],
    };
  });
  const table: BenchTable = {
    caption: `Generated traces (depth ≤ 8, fan-out 1–12), median of ${RUNS} runs, 1440×900 viewport`,
    columns: ["frames", "nodes painted", "interactive", "interactive, each run", "JS heap", "JS heap after GC", "nodes in the DOM", "expand a +N node", "page HTML"],
    rows: rows.map((r) => r.row),
  };
  const atTarget = rows.find((r) => r.frames === TARGET_FRAMES)!;
  return {
    summary:
      "Time from navigation to interactive on `/bench/trace?frames=N` (a production build under `next start`, headless " +
      "Debian Chromium, a fresh browser context per run, one discarded warm-up visit per size): *nodes painted* is the " +
      "first frame node visible; *interactive* is a click on a child of the root having opened the inspector with that " +
      "frame's heading. The page embeds the whole trace as JSON text (`TraceExplorerFromJson`); the explorer opens it " +
      "collapsed to about 200 frames (breadth-first), laid out as a tidy tree, and React Flow renders only the nodes in " +
      "the viewport. *JS heap* is Chromium's `JSHeapUsedSize` (CDP `Performance.getMetrics`) at interactive, and again " +
      "after a forced garbage collection. *Expand* is a click on the first collapsed node's toggle until its subtree is " +
      "rendered.",
    tables: [table],
    targets: [
      {
        target: `≤ ${seconds(TARGET_MS)} to interactive at ${TARGET_FRAMES.toLocaleString("en")} frames`,
        scope: "production build, headless Chromium, median",
        measured: seconds(atTarget.interactiveMs),
        met: atTarget.interactiveMs <= TARGET_MS,
      },
    ],
    notes: [
      `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? "unknown CPU"}; the server and the browser share it.`,
      "The page HTML carries the whole trace (every frame's input, output, tool calls, identity and authorization, " +
        "about 1.4 KiB a frame); transferring and parsing it is part of every figure. The generator runs once per size " +
        "and server process, so its own time is not.",
    ],
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const section = await benchTraceExplorer();
  console.log(section.summary);
  for (const table of section.tables) console.log(`\n${renderTable(table)}`);
  for (const target of section.targets) console.log(`\n${target.target}: ${target.measured} — ${target.met ? "met" : "NOT met"}`);
  for (const note of section.notes ?? []) console.log(`- ${note}`);
}
