/**
 * `npm run bench [-- <id> …]`: runs the benchmarks one after another (never in parallel: they
 * would measure each other) and writes docs/BENCHMARKS.md. With ids, only those run and only
 * their sections are replaced.
 *
 * A benchmark is a module exporting a function that returns a `Section` (see ./report.ts); add
 * it to `benchmarks` below. Modules are imported only when they run, so one that needs
 * Chromium or PostgreSQL costs nothing to the others.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  assembleDocument,
  parseSections,
  renderFailure,
  renderHeader,
  renderSection,
  type Benchmark,
  type RunFacts,
  type Section,
} from "./report";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const documentPath = resolve(root, "docs/BENCHMARKS.md");

export const benchmarks: Benchmark[] = [
  {
    id: "runtime",
    title: "Runtime overhead: a 200-frame tree against a bare SDK tool loop",
    run: async () => (await import("./runtime.bench")).benchRuntime(),
  },
  {
    id: "trace-explorer",
    title: "Trace explorer: navigation to interactive for large traces",
    run: async () => (await import("./trace-explorer.bench")).benchTraceExplorer(),
  },
  {
    id: "promotion",
    title: "Prompt promotion: from commit to first use in another process",
    run: async () => (await import("./prompt-promotion.bench")).benchPromotion(),
  },
  {
    id: "export",
    title: "Compliance export and verification",
    run: async () => sectionFromFigures("bench/export.bench.ts", await (await import("./export.bench")).benchExport()),
  },
  {
    id: "cluster",
    title: "Cluster mode: workers and concurrent runs",
    run: async () => (await import("./cluster.bench")).benchCluster(),
  },
];

/** For a module that reports named figures rather than a `Section`: one table per result. */
function sectionFromFigures(module: string, results: { name: string; figures: Record<string, number | string> }[]): Section {
  return {
    summary: `Figures as \`${module}\` reports them.`,
    tables: results.map((result) => ({
      caption: result.name,
      columns: ["figure", "value"],
      rows: Object.entries(result.figures).map(([name, value]) => [name, typeof value === "number" ? formatNumber(value) : value]),
    })),
    targets: [],
  };
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) < 10 ? 2 : 1);
}

function machineFacts(): string {
  const cpus = os.cpus();
  const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  return [
    "| machine | |",
    "| --- | --- |",
    `| CPUs | ${cpus.length} × ${cpus[0]?.model.trim() ?? "unknown"} |`,
    `| memory | ${gib(os.totalmem())} |`,
    `| OS | ${os.type()} ${os.release()} (${os.arch()}) |`,
    `| Node | ${process.version} |`,
  ].join("\n");
}

async function main(): Promise<void> {
  const ids = process.argv.slice(2).filter((arg) => !arg.startsWith("-"));
  const unknown = ids.filter((id) => !benchmarks.some((b) => b.id === id));
  if (unknown.length > 0) {
    console.error(`bench: unknown benchmark ${unknown.join(", ")}; known: ${benchmarks.map((b) => b.id).join(", ")}`);
    process.exitCode = 2;
    return;
  }
  const selected = ids.length === 0 ? benchmarks : benchmarks.filter((b) => ids.includes(b.id));
  const command = ids.length > 0 ? `npm run bench -- ${ids.join(" ")}` : "npm run bench";
  if (typeof globalThis.gc !== "function") {
    console.warn("bench: run through `npm run bench` (node --expose-gc): without it, garbage collection lands inside measurements");
  }

  const fresh = new Map<string, string>();
  let failed = false;
  for (const benchmark of selected) {
    console.error(`bench: ${benchmark.id} — ${benchmark.title}`);
    const startedAt = new Date();
    const loadBefore = os.loadavg();
    const t0 = performance.now();
    const facts = (): RunFacts => ({
      command,
      startedAt,
      durationMs: performance.now() - t0,
      nodeVersion: process.version,
      loadBefore,
      loadAfter: os.loadavg(),
    });
    try {
      const section = await benchmark.run();
      fresh.set(benchmark.id, renderSection(benchmark, section, facts()));
    } catch (error) {
      failed = true;
      console.error(`bench: ${benchmark.id} failed:`, error);
      fresh.set(benchmark.id, renderFailure(benchmark, error, facts()));
    }
  }

  const previous = existsSync(documentPath) ? parseSections(readFileSync(documentPath, "utf8")) : new Map<string, string>();
  const document = assembleDocument(
    renderHeader(machineFacts()),
    benchmarks.map((b) => b.id),
    previous,
    fresh,
  );
  mkdirSync(dirname(documentPath), { recursive: true });
  writeFileSync(documentPath, document);
  console.error(`bench: wrote ${documentPath}`);
  if (failed) process.exitCode = 1;
}

await main();
