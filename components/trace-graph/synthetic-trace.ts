import type { LoopType } from "@/lib/runtime/definition";
import type { FrameStatus, TraceFrame, TraceToolCall } from "@/lib/runtime/types";

export interface SyntheticTraceOptions {
  frames: number;
  /** Frames are at depth 0 … maxDepth. */
  maxDepth?: number;
  maxFanOut?: number;
  seed?: number;
}

/** Small, fast, deterministic PRNG (mulberry32): the same options always give the same tree. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LOOPS: { id: string; type: LoopType }[] = [
  { id: "bench-planner", type: "llm" },
  { id: "bench-researcher", type: "llm" },
  { id: "bench-writer", type: "llm" },
  { id: "bench-search", type: "mcp" },
  { id: "bench-fetch-page", type: "http" },
  { id: "bench-lookup", type: "mcp" },
  { id: "bench-score", type: "http" },
];

function uuidFor(runSeed: number, n: number): string {
  const hex = n.toString(16).padStart(12, "0");
  return `00000000-${(runSeed & 0xffff).toString(16).padStart(4, "0")}-4000-8000-${hex}`;
}

/**
 * A generated call tree shaped like real traces: LLM frames call 1…maxFanOut children, MCP
 * and HTTP frames are leaves; depth ≤ maxDepth; exactly `frames` frames, a few failed or
 * denied. Used by the large-trace benchmark page and the layout tests.
 */
export function syntheticTrace(options: SyntheticTraceOptions): TraceFrame {
  const total = Math.max(1, Math.floor(options.frames));
  const maxDepth = options.maxDepth ?? 8;
  const maxFanOut = options.maxFanOut ?? 12;
  const seed = options.seed ?? 1;
  const next = random(seed);
  const runId = uuidFor(seed, 0).replace(/-8000-/, "-9000-");
  const runStart = Date.UTC(2026, 0, 12, 9, 0, 0);
  const identity = { subject: "bench", displayName: "Benchmark", groups: ["cn=operators,ou=groups,dc=example,dc=org"], kind: "user" as const, source: "bench" };

  let created = 0;
  const make = (parent: TraceFrame | null, startMs: number, endMs: number, isLeaf: boolean): TraceFrame => {
    const n = created++;
    const loop = parent === null ? LOOPS[0]! : isLeaf ? LOOPS[3 + Math.floor(next() * 4)]! : LOOPS[Math.floor(next() * 3)]!;
    const roll = next();
    const status: FrameStatus = roll < 0.03 ? "failed" : roll < 0.04 ? "denied" : "succeeded";
    const startedAt = new Date(startMs).toISOString();
    const durationMs = Math.max(1, Math.round(endMs - startMs));
    const isLlm = loop.type === "llm";
    return {
      id: uuidFor(seed, n + 1),
      runId,
      parentFrameId: parent?.id ?? null,
      parentToolCallId: parent ? `toolu_${n.toString(36)}` : null,
      depth: parent ? parent.depth + 1 : 0,
      loop: { id: loop.id, revision: 1 + (n % 3), type: loop.type, realm: "bench" },
      prompt: isLlm ? { version: 1 + (n % 4), reason: "active" } : null,
      status,
      attempts: [{ attempt: 1, startedAt, endedAt: new Date(endMs).toISOString(), durationMs, ok: status === "succeeded" }],
      input: { query: `item ${n}` },
      output: status === "succeeded" ? { text: `result ${n}` } : null,
      error:
        status === "failed"
          ? { code: "upstream_error", message: "Upstream answered 502" }
          : status === "denied"
            ? { code: "forbidden", message: "No role in realm bench allows invoke" }
            : null,
      model: isLlm ? "claude-sonnet-4-5" : null,
      usage: isLlm ? { inputTokens: 200 + Math.floor(next() * 2000), outputTokens: 20 + Math.floor(next() * 400) } : { inputTokens: 0, outputTokens: 0 },
      turns: isLlm ? 2 : 0,
      toolCalls: [],
      identity,
      authorization: {
        allowed: status !== "denied",
        action: "invoke",
        realm: "bench",
        role: status === "denied" ? null : "operator",
        via: status === "denied" ? null : identity.groups[0]!,
        reason: status === "denied" ? "no role in realm" : "operator in bench",
        checkedAt: startedAt,
      },
      createdAt: startedAt,
      startedAt,
      endedAt: new Date(endMs).toISOString(),
      durationMs,
      children: [],
    };
  };

  const root = make(null, runStart, runStart + 60_000, false);
  const queue: TraceFrame[] = [root];
  let head = 0;
  while (created < total) {
    let parent = queue[head++];
    if (!parent) {
      // Every open frame turned out to be a leaf: let a shallow frame call more children.
      head = 0;
      parent = queue.find((f) => f.depth < maxDepth)!;
    }
    if (parent.depth >= maxDepth || parent.loop.type !== "llm") continue;
    const fanOut = Math.min(total - created, 1 + Math.floor(next() * maxFanOut));
    const parentStart = Date.parse(parent.startedAt!);
    const parentEnd = Date.parse(parent.endedAt!);
    const span = parentEnd - parentStart;
    for (let i = 0; i < fanOut; i++) {
      const start = parentStart + span * (0.05 + 0.5 * next());
      const end = start + (parentEnd - start) * (0.2 + 0.7 * next());
      const isLeaf = parent.depth + 1 >= maxDepth || next() < 0.55;
      const child = make(parent, start, end, isLeaf);
      const call: TraceToolCall = {
        id: child.parentToolCallId!,
        turn: 1,
        name: child.loop.id.replace(/^bench-/, "").replaceAll("-", "_"),
        kind: "loop",
        input: child.input,
        output: child.output,
        isError: child.status !== "succeeded",
        childFrameId: child.id,
        startedAt: child.startedAt!,
        endedAt: child.endedAt,
        durationMs: child.durationMs,
      };
      parent.children.push(child);
      parent.toolCalls.push(call);
      queue.push(child);
    }
  }
  return root;
}
