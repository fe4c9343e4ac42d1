import { describe, expect, it } from "vitest";
import { buildTraceTree, formatTraceTree, walkTrace } from "./trace";
import type { TraceFrame } from "./types";

function frame(id: string, parent: string | null, depth: number, extra: Partial<TraceFrame> = {}): TraceFrame {
  return {
    id,
    runId: "run",
    parentFrameId: parent,
    parentToolCallId: null,
    depth,
    loop: { id: `loop-${id}`, revision: 1, type: "llm", realm: "r" },
    prompt: null,
    status: "succeeded",
    attempts: [],
    input: null,
    output: null,
    error: null,
    model: null,
    usage: { inputTokens: 0, outputTokens: 0 },
    turns: 0,
    toolCalls: [],
    identity: { subject: "u", groups: [], kind: "user", source: "test" },
    authorization: { allowed: true, action: "invoke", realm: "r", role: "operator", via: "g", reason: "", checkedAt: "" },
    createdAt: "",
    startedAt: null,
    endedAt: null,
    durationMs: 12,
    children: [],
    ...extra,
  };
}

describe("buildTraceTree", () => {
  it("nests frames under their parents in creation order", () => {
    const root = buildTraceTree([frame("a", null, 0), frame("b", "a", 1), frame("c", "b", 2), frame("d", "a", 1)]);
    expect(root?.id).toBe("a");
    expect(root?.children.map((c) => c.id)).toEqual(["b", "d"]);
    expect(root?.children[0]?.children.map((c) => c.id)).toEqual(["c"]);
    expect([...walkTrace(root!)].map((f) => f.id)).toEqual(["a", "b", "c", "d"]);
  });

  it("returns null for a run without frames and does not mutate its input", () => {
    expect(buildTraceTree([])).toBeNull();
    const flat = [frame("a", null, 0), frame("b", "a", 1)];
    buildTraceTree(flat);
    expect(flat[0]!.children).toEqual([]);
  });

  it("handles 20,000 frames in linear time", () => {
    const frames = [frame("0", null, 0)];
    for (let i = 1; i < 20_000; i++) frames.push(frame(String(i), String(Math.floor((i - 1) / 8)), 1));
    const t0 = performance.now();
    const root = buildTraceTree(frames)!;
    expect(performance.now() - t0).toBeLessThan(500);
    expect([...walkTrace(root)]).toHaveLength(20_000);
  });
});

describe("formatTraceTree", () => {
  it("draws branches, statuses and errors", () => {
    const root = buildTraceTree([
      frame("a", null, 0, { prompt: { version: 3, reason: "active" } }),
      frame("b", "a", 1, { status: "denied", error: { code: "denied", message: "no role" } }),
      frame("c", "a", 1),
    ])!;
    expect(formatTraceTree(root).split("\n")).toEqual([
      "loop-a [llm r1] succeeded prompt v3 12ms",
      "├─ loop-b [llm r1] denied 12ms — denied: no role",
      "└─ loop-c [llm r1] succeeded 12ms",
    ]);
  });
});
