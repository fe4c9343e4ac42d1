/**
 * The compliance export benchmark: a 10,000-frame run and a 100-run realm range, exported
 * to a signed `.tar.gz` and verified, on PGlite in memory and on PostgreSQL. A 40,000-frame run
 * shows whether memory stays flat as the export grows.
 *
 *   npx tsx bench/export.bench.ts            (add --expose-gc via `node --expose-gc --import tsx` for steadier heap figures)
 *
 * Data is seeded straight through the query functions, not the executor: the benchmark measures
 * the export, not the runtime.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { DatabaseHandle, DatabaseKind } from "../db/client";
import { appendAuditEvent } from "../db/queries/audit";
import { ensureRealm } from "../db/queries/realms";
import { insertFrame, insertRun, insertToolCall, updateFrame, updateRun, updateToolCall } from "../db/queries/runs";
import { verifyBundle } from "../lib/export/verify-bundle";
import { writeBundleFile } from "../lib/export/write-bundle";
import type { AuthorizationDecision, Identity } from "../lib/runtime/types";
import { openTestDatabase } from "../test/database";

export interface BenchResult {
  name: string;
  figures: Record<string, number | string>;
}

const REALM = "bench";
const FAN_OUT = 10;
const BATCH = 100;
const TARGET_EXPORT_MS = 3_000;
const TARGET_VERIFY_MS = 1_000;

const identity: Identity = { subject: "bench-operator", displayName: "Bench Operator", groups: ["cn=bench-operators,dc=bench"], kind: "user", source: "bench" };
const exporter: Identity = { subject: "bench-auditor", groups: ["cn=bench-auditors,dc=bench"], kind: "user", source: "bench" };

function decision(allowed: boolean, at: Date): AuthorizationDecision {
  return allowed
    ? { allowed, action: "invoke", realm: REALM, role: "operator", via: identity.groups[0]!, reason: `role operator in realm ${REALM} via ${identity.groups[0]}`, checkedAt: at.toISOString() }
    : { allowed, action: "invoke", realm: REALM, role: "viewer", via: identity.groups[0]!, reason: `role viewer in realm ${REALM} may not invoke loops`, checkedAt: at.toISOString() };
}

async function inBatches<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += BATCH) await Promise.all(items.slice(i, i + BATCH).map(fn));
}

/**
 * One run whose frames form a tree with a fan-out of ten, breadth first: inner frames are LLM
 * frames whose tool calls spawn their children; leaves are HTTP frames; one leaf in 500 is denied.
 */
async function seedRun(db: DatabaseHandle["db"], frameCount: number, createdAt: Date): Promise<string> {
  const runId = randomUUID();
  await insertRun(db, { id: runId, realmId: REALM, loopId: "bench-root", loopRevision: 1, status: "running", input: { case: `case-${runId.slice(0, 8)}` }, identity, createdAt, deadlineAt: null });
  const ids = Array.from({ length: frameCount }, () => randomUUID());
  const frameAt = (i: number) => new Date(createdAt.getTime() + i);
  const parentOf = (i: number) => (i === 0 ? null : Math.floor((i - 1) / FAN_OUT));
  const isInner = (i: number) => i * FAN_OUT + 1 < frameCount;
  const isDenied = (i: number) => !isInner(i) && i % 500 === 499;
  const indexes = ids.map((_, i) => i);
  const depths = indexes.map(() => 0);
  for (const i of indexes) if (i > 0) depths[i] = depths[parentOf(i)!]! + 1;
  await inBatches(indexes, async (i) => {
    const parent = parentOf(i);
    const at = frameAt(i);
    await insertFrame(db, {
      id: ids[i]!,
      runId,
      parentFrameId: parent === null ? null : ids[parent]!,
      parentToolCallId: parent === null ? null : `toolu_${i}`,
      depth: depths[i]!,
      seq: i,
      realmId: REALM,
      loopId: isInner(i) ? "bench-llm" : "bench-http",
      loopRevision: 1,
      loopType: isInner(i) ? "llm" : "http",
      promptVersion: isInner(i) ? 1 : null,
      promptChoice: isInner(i) ? { reason: "active" } : null,
      status: isDenied(i) ? "denied" : "running",
      input: { query: `lookup ${i}`, filters: { since: "2026-01-01", limit: 20 } },
      model: isInner(i) ? "claude-bench" : null,
      identity,
      authorization: decision(!isDenied(i), at),
      ...(isDenied(i) ? { error: { code: "denied", message: "Not authorized" } } : {}),
      createdAt: at,
      startedAt: isDenied(i) ? null : at,
    });
  });
  await inBatches(indexes.filter((i) => i > 0), async (i) => {
    const parent = parentOf(i)!;
    const at = frameAt(i);
    await insertToolCall(db, { frameId: ids[parent]!, id: `toolu_${i}`, runId, turn: 1, position: (i - 1) % FAN_OUT, name: "lookup", kind: "loop", input: { query: `lookup ${i}` }, childFrameId: ids[i]!, startedAt: at });
    await updateToolCall(db, ids[parent]!, `toolu_${i}`, { output: { rows: [`row ${i}`] }, isError: isDenied(i), endedAt: new Date(at.getTime() + 5), durationMs: 5 });
  });
  await inBatches(
    indexes.filter((i) => !isDenied(i)),
    async (i) => {
      await updateFrame(db, ids[i]!, { status: "succeeded", output: { answer: `answer ${i}`, rows: [`row ${i}`] }, attempts: [{ attempt: 1, startedAt: frameAt(i).toISOString(), endedAt: frameAt(i + 5).toISOString(), durationMs: 5, ok: true }], inputTokens: 120, outputTokens: 40, turns: isInner(i) ? 2 : 0, endedAt: frameAt(i + 5), durationMs: 5 });
    },
  );
  await updateRun(db, runId, { status: "succeeded", output: { answer: "done" }, endedAt: frameAt(frameCount + 5), frameCount });
  await appendAuditEvent(db, { action: "run.started", actor: { subject: identity.subject, kind: identity.kind, source: identity.source }, realmId: REALM, targetType: "run", targetId: runId, at: createdAt });
  return runId;
}

const mib = (bytes: number) => Math.round((bytes / 1024 ** 2) * 10) / 10;
const gc = (globalThis as { gc?: () => void }).gc;

/** Times `fn` and samples heap and RSS every 5 ms; the peaks are above the starting point. */
async function measure<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number; peakHeapMiB: number; peakRssMiB: number }> {
  gc?.();
  const start = process.memoryUsage();
  let heap = start.heapUsed;
  let rss = start.rss;
  const sample = () => {
    const now = process.memoryUsage();
    heap = Math.max(heap, now.heapUsed);
    rss = Math.max(rss, now.rss);
  };
  const timer = setInterval(sample, 5);
  const t0 = performance.now();
  try {
    const result = await fn();
    const ms = performance.now() - t0;
    sample();
    return { result, ms: Math.round(ms), peakHeapMiB: mib(heap - start.heapUsed), peakRssMiB: mib(rss - start.rss) };
  } finally {
    clearInterval(timer);
  }
}

/**
 * The largest live heap while `fn` runs: a full collection before each sample, so garbage
 * waiting to be collected does not count. Slow; only with `--expose-gc`.
 */
async function measureLiveHeap(fn: () => Promise<unknown>): Promise<number | string> {
  if (!gc) return "n/a (run with --expose-gc)";
  gc();
  const base = process.memoryUsage().heapUsed;
  let peak = 0;
  const timer = setInterval(() => {
    gc();
    peak = Math.max(peak, process.memoryUsage().heapUsed - base);
  }, 250);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return mib(peak);
}

async function benchDatabase(kind: DatabaseKind, workDir: string): Promise<BenchResult[]> {
  const database = await openTestDatabase(kind);
  const { db } = database;
  const instanceSecret = randomBytes(32);
  const results: BenchResult[] = [];
  try {
    await ensureRealm(db, { id: REALM });
    const base = new Date("2026-06-01T00:00:00Z");
    const seedStart = performance.now();
    const bigRun = await seedRun(db, 10_000, base);
    const hugeRun = await seedRun(db, 40_000, new Date(base.getTime() + 3_600_000));
    const rangeFrom = new Date(base.getTime() + 2 * 86_400_000);
    const rangeRuns: string[] = [];
    for (let r = 0; r < 110; r++) {
      // Runs 100–109 fall after the range and must stay out of the export.
      rangeRuns.push(await seedRun(db, 20, new Date(rangeFrom.getTime() + r * 60_000)));
    }
    const rangeTo = new Date(rangeFrom.getTime() + 100 * 60_000);
    const seedMs = Math.round(performance.now() - seedStart);

    const exportRun = (runId: string, name: string) =>
      measure(() => writeBundleFile(db, { scope: { kind: "run", runId }, exporter, realms: [REALM], instanceSecret, softwareVersion: "bench" }, join(workDir, `${kind}-${name}.tar.gz`)));

    // One warm-up export so the first figure does not carry key generation and cold caches.
    await exportRun(rangeRuns[0]!, "warmup");

    const big = await exportRun(bigRun, "10k");
    const bigLive = await measureLiveHeap(() => exportRun(bigRun, "10k-live"));
    const bigVerify = await measure(() => verifyBundle(big.result.path));
    if (!bigVerify.result.ok) throw new Error(`10k bundle does not verify: ${bigVerify.result.problems.join("; ")}`);
    results.push({
      name: `${kind}: export a 10,000-frame run`,
      figures: {
        frames: big.result.manifest.frames,
        "export ms": big.ms,
        "verify ms": bigVerify.ms,
        "archive KiB": Math.round(statSync(big.result.path).size / 1024),
        "peak heap above start MiB": big.peakHeapMiB,
        "peak live heap (after GC) MiB": bigLive,
        "peak RSS above start MiB": big.peakRssMiB,
        "verify peak heap MiB": bigVerify.peakHeapMiB,
        [`export ≤ ${TARGET_EXPORT_MS} ms`]: big.ms <= TARGET_EXPORT_MS ? "met" : "missed",
        [`verify ≤ ${TARGET_VERIFY_MS} ms`]: bigVerify.ms <= TARGET_VERIFY_MS ? "met" : "missed",
      },
    });

    const huge = await exportRun(hugeRun, "40k");
    const hugeLive = await measureLiveHeap(() => exportRun(hugeRun, "40k-live"));
    const hugeVerify = await measure(() => verifyBundle(huge.result.path));
    if (!hugeVerify.result.ok) throw new Error(`40k bundle does not verify: ${hugeVerify.result.problems.join("; ")}`);
    results.push({
      name: `${kind}: export a 40,000-frame run (memory growth check)`,
      figures: {
        frames: huge.result.manifest.frames,
        "export ms": huge.ms,
        "verify ms": hugeVerify.ms,
        "archive KiB": Math.round(statSync(huge.result.path).size / 1024),
        "peak heap above start MiB": huge.peakHeapMiB,
        "peak live heap (after GC) MiB": hugeLive,
        "peak RSS above start MiB": huge.peakRssMiB,
      },
    });

    const realm = await measure(() =>
      writeBundleFile(db, { scope: { kind: "realm", realmId: REALM, from: rangeFrom, to: rangeTo }, exporter, realms: [REALM], instanceSecret, softwareVersion: "bench" }, join(workDir, `${kind}-realm.tar.gz`)),
    );
    const realmVerify = await measure(() => verifyBundle(realm.result.path));
    if (!realmVerify.result.ok) throw new Error(`realm bundle does not verify: ${realmVerify.result.problems.join("; ")}`);
    if (realm.result.manifest.runs !== 100) throw new Error(`realm export holds ${realm.result.manifest.runs} runs, expected 100`);
    results.push({
      name: `${kind}: export a 100-run realm range`,
      figures: {
        runs: realm.result.manifest.runs,
        frames: realm.result.manifest.frames,
        "audit events": realm.result.manifest.auditChain?.events ?? 0,
        "export ms": realm.ms,
        "verify ms": realmVerify.ms,
        "archive KiB": Math.round(statSync(realm.result.path).size / 1024),
        "peak heap above start MiB": realm.peakHeapMiB,
        "peak RSS above start MiB": realm.peakRssMiB,
        "seed ms (all scenarios)": seedMs,
      },
    });
  } finally {
    await database.close();
  }
  return results;
}

/** Runs every scenario on PostgreSQL, then on PGlite in memory (whose WebAssembly heap stays until exit). */
export async function benchExport(): Promise<BenchResult[]> {
  const workDir = mkdtempSync(join(tmpdir(), "loopstacks-export-bench-"));
  try {
    const kinds: DatabaseKind[] = process.env.LOOPSTACKS_TEST_SKIP_POSTGRES === "1" ? ["pglite"] : ["postgres", "pglite"];
    const results: BenchResult[] = [];
    for (const kind of kinds) results.push(...(await benchDatabase(kind, workDir)));
    return results;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await benchExport();
  for (const { name, figures } of results) {
    console.log(`\n${name}`);
    for (const [key, value] of Object.entries(figures)) console.log(`  ${key.padEnd(30)} ${value}`);
  }
}
