import { describe, expect, it } from "vitest";
import type { TraceFrame, TraceToolCall } from "@/lib/runtime/types";
import { ancestorIds, buildTraceRows, defaultExpanded, frameLabel, indexFrames } from "./build-trace-rows";

let counter = 0;

function call(name: string, childFrameId: string | null, overrides: Partial<TraceToolCall> = {}): TraceToolCall {
  return {
    id: `toolu_${name}_${++counter}`,
    turn: 1,
    name,
    kind: childFrameId ? "loop" : "mcp",
    input: {},
    output: "ok",
    isError: false,
    childFrameId,
    startedAt: "2026-01-01T00:00:00.000Z",
    endedAt: "2026-01-01T00:00:01.000Z",
    durationMs: 1000,
    ...overrides,
  };
}

function frame(id: string, loopId: string, children: TraceFrame[] = [], toolCalls?: TraceToolCall[], parentFrameId: string | null = null): TraceFrame {
  const node: TraceFrame = {
    id,
    runId: "run",
    parentFrameId,
    parentToolCallId: null,
    depth: 0,
    loop: { id: loopId, revision: 1, type: "llm", realm: "demo" },
    prompt: { version: 1, reason: "active" },
    status: "succeeded",
    attempts: [],
    input: {},
    output: null,
    error: null,
    model: "m",
    usage: { inputTokens: 1, outputTokens: 1 },
    turns: 1,
    toolCalls: toolCalls ?? children.map((child) => call(`call_${child.loop.id}`, child.id)),
    identity: { subject: "alice", groups: [], kind: "user", source: "test" },
    authorization: { allowed: true, action: "invoke", realm: "demo", role: "operator", via: "g", reason: "ok", checkedAt: "2026-01-01T00:00:00.000Z" },
    createdAt: "2026-01-01T00:00:00.000Z",
    startedAt: "2026-01-01T00:00:00.000Z",
    endedAt: "2026-01-01T00:00:01.000Z",
    durationMs: 1000,
    children,
  };
  for (const child of children) child.parentFrameId = id;
  return node;
}

/** root → a (→ a1, a2), b, and an MCP tool call without a child frame. */
function sample() {
  const a1 = frame("a1", "leaf-1");
  const a2 = frame("a2", "leaf-2");
  const a = frame("a", "child-a", [a1, a2]);
  const b = frame("b", "child-b");
  const root = frame("root", "parent", [a, b], []);
  root.toolCalls = [call("ask_a", "a"), call("echo", null), call("ask_b", "b")];
  return root;
}

describe("buildTraceRows", () => {
  it("shows only the root while nothing is expanded", () => {
    const rows = buildTraceRows(sample(), new Set());
    expect(rows.map((r) => r.key)).toEqual(["root"]);
    expect(rows[0]).toMatchObject({ kind: "frame", level: 1, hasChildren: true, isExpanded: false, posInSet: 1, setSize: 1 });
  });

  it("lists an expanded frame's tool calls in call order, child frames in place of their calls", () => {
    const rows = buildTraceRows(sample(), new Set(["root"]));
    expect(rows.map((r) => (r.kind === "frame" ? `frame:${r.frame.loop.id}` : `call:${r.call.name}`))).toEqual([
      "frame:parent",
      "frame:child-a",
      "call:echo",
      "frame:child-b",
    ]);
    const a = rows[1]!;
    expect(a).toMatchObject({ kind: "frame", level: 2, parentId: "root", hasChildren: true, isExpanded: false, posInSet: 1, setSize: 3 });
    expect(a.kind === "frame" && a.via?.name).toBe("ask_a");
    expect(rows[2]).toMatchObject({ kind: "tool-call", level: 2, parentId: "root", posInSet: 2, setSize: 3 });
    expect(rows[3]).toMatchObject({ kind: "frame", hasChildren: false, posInSet: 3 });
  });

  it("nests grandchildren under an expanded child", () => {
    const rows = buildTraceRows(sample(), new Set(["root", "a"]));
    expect(rows.map((r) => [r.key, r.level])).toEqual([
      ["root", 1],
      ["a", 2],
      ["a1", 3],
      ["a2", 3],
      [expect.stringMatching(/^root:toolu_echo/), 2],
      ["b", 2],
    ]);
  });

  it("shows a child frame whose tool call is not recorded yet", () => {
    const root = sample();
    root.toolCalls = [];
    const rows = buildTraceRows(root, new Set(["root"]));
    expect(rows.map((r) => r.key)).toEqual(["root", "a", "b"]);
    expect(rows[1]).toMatchObject({ via: null });
  });

  it("returns nothing for a run without frames", () => {
    expect(buildTraceRows(null, new Set())).toEqual([]);
  });
});

describe("defaultExpanded", () => {
  it("opens a small trace fully", () => {
    expect([...defaultExpanded(sample())].sort()).toEqual(["a", "root"]);
  });

  it("opens a large trace breadth-first within the row budget", () => {
    const children = Array.from({ length: 50 }, (_, i) => frame(`c${i}`, "child", Array.from({ length: 10 }, (_, j) => frame(`c${i}-${j}`, "leaf"))));
    const root = frame("root", "fan-out", children);
    const expanded = defaultExpanded(root, 200);
    // The root's 50 children fit; then 14 children × 10 grandchildren do (1 + 50 + 140 ≤ 200).
    expect(expanded.has("root")).toBe(true);
    expect(expanded.size).toBe(1 + 14);
    expect(buildTraceRows(root, expanded).length).toBeLessThanOrEqual(200);
  });
});

describe("indexFrames and ancestorIds", () => {
  it("finds the path from the root to a frame", () => {
    const index = indexFrames(sample());
    expect(index.size).toBe(5);
    expect(ancestorIds(index, "a2")).toEqual(["root", "a"]);
    expect(ancestorIds(index, "root")).toEqual([]);
    expect(ancestorIds(index, "missing")).toEqual([]);
  });
});

describe("frameLabel", () => {
  it("names a frame by loop id and status", () => {
    expect(frameLabel(frame("x", "demo-echo"))).toBe("demo-echo succeeded");
  });
});
