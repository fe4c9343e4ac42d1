import { describe, expect, it } from "vitest";
import { buildTimeline, visibleRange } from "./timeline-rows";
import { searchTrace } from "./search-trace";
import { syntheticTrace } from "./synthetic-trace";
import { frame } from "./test-frames";
import { ancestorsOf, expandPathTo, growExpansion, indexTrace, isVisible, neighbour } from "./trace-index";

const tree = frame("root", [
  frame("a", [frame("a1"), frame("a2", [frame("a2x", [], { status: "failed", error: { code: "upstream_timeout", message: "slow" } })])]),
  frame("b", [], { toolCalls: [{ id: "t", turn: 1, name: "lookup_cases", kind: "loop", input: {}, output: {}, isError: false, childFrameId: null, startedAt: "", endedAt: null, durationMs: null }] }),
  frame("c", [frame("c1")]),
]);
const index = indexTrace(tree);

describe("indexTrace", () => {
  it("counts descendants and orders frames depth-first", () => {
    expect(index.order.map((f) => f.id)).toEqual(["root", "a", "a1", "a2", "a2x", "b", "c", "c1"]);
    expect(index.descendantCount.get("root")).toBe(7);
    expect(index.descendantCount.get("a")).toBe(3);
    expect(index.descendantCount.get("b")).toBe(0);
  });

  it("finds ancestors and opens the path to a deep frame", () => {
    expect(ancestorsOf(index, "a2x")).toEqual(["root", "a", "a2"]);
    const expanded = expandPathTo(index, new Set(["root"]), "a2x");
    expect([...expanded].sort()).toEqual(["a", "a2", "root"]);
    expect(isVisible(index, expanded, "a2x")).toBe(true);
    expect(isVisible(index, new Set(["root"]), "a2x")).toBe(false);
  });
});

describe("growExpansion", () => {
  it("opens breadth-first within the budget", () => {
    // root + its 3 children = 4 on screen; a (+2) fits in 6, c (+1) does not.
    expect([...growExpansion(index, new Set(), 6)].sort()).toEqual(["a", "root"]);
    expect([...growExpansion(index, new Set(), 100)].sort()).toEqual(["a", "a2", "c", "root"]);
  });

  it("keeps what is open and leaves closed what the person closed", () => {
    const grown = growExpansion(index, new Set(["root", "c"]), 100, new Set(["a"]));
    expect([...grown].sort()).toEqual(["c", "root"]);
  });

  it("returns the same set when nothing more fits", () => {
    const expanded = new Set(["root"]);
    expect(growExpansion(index, expanded, 4)).toBe(expanded);
  });

  it("keeps a large trace near the budget", () => {
    const big = indexTrace(syntheticTrace({ frames: 10_000, seed: 11 }));
    const expanded = growExpansion(big, new Set(), 200);
    let visible = 0;
    for (const f of big.order) if (isVisible(big, expanded, f.id)) visible++;
    expect(visible).toBeLessThanOrEqual(200);
    expect(visible).toBeGreaterThan(150);
  });
});

describe("neighbour", () => {
  it("moves to parent, first child and siblings", () => {
    expect(neighbour(index, "a2", "parent")?.id).toBe("a");
    expect(neighbour(index, "a", "first-child")?.id).toBe("a1");
    expect(neighbour(index, "a", "next-sibling")?.id).toBe("b");
    expect(neighbour(index, "b", "previous-sibling")?.id).toBe("a");
    expect(neighbour(index, "c", "next-sibling")).toBeNull();
    expect(neighbour(index, "root", "parent")).toBeNull();
    expect(neighbour(index, "b", "first-child")).toBeNull();
  });
});

describe("searchTrace", () => {
  it("matches loop id, status, error code and tool name, depth-first", () => {
    expect(searchTrace(index, "loop-a")).toEqual(["a", "a1", "a2", "a2x"]);
    expect(searchTrace(index, "FAILED")).toEqual(["a2x"]);
    expect(searchTrace(index, "timeout")).toEqual(["a2x"]);
    expect(searchTrace(index, "lookup_cases")).toEqual(["b"]);
    expect(searchTrace(index, "c1")).toEqual(["c1"]);
    expect(searchTrace(index, "  ")).toEqual([]);
  });
});

describe("buildTimeline", () => {
  it("places bars relative to the run start and stretches running frames to now", () => {
    const run = indexTrace(
      frame("root", [
        frame("x", [], { startedAt: "2026-01-01T00:00:00.250Z", endedAt: "2026-01-01T00:00:00.750Z" }),
        frame("y", [], { status: "running", startedAt: "2026-01-01T00:00:00.500Z", endedAt: null, durationMs: null }),
      ], { status: "running", endedAt: null, durationMs: null }),
    );
    const now = Date.parse("2026-01-01T00:00:02.000Z");
    const timeline = buildTimeline(run, now);
    expect(timeline.totalMs).toBe(2000);
    expect(timeline.rows.map((r) => [r.id, r.depth, r.offsetMs, r.durationMs, r.isOpen])).toEqual([
      ["root", 0, 0, 2000, true],
      ["x", 1, 250, 500, false],
      ["y", 1, 500, 1500, true],
    ]);
  });

  it("ends running bars at the latest recorded moment when no clock is given", () => {
    const run = indexTrace(
      frame("root", [frame("x", [], { startedAt: "2026-01-01T00:00:00.250Z", endedAt: "2026-01-01T00:00:03.000Z" })], {
        status: "running",
        endedAt: null,
        durationMs: null,
      }),
    );
    const timeline = buildTimeline(run);
    expect(timeline.totalMs).toBe(3000);
    expect(timeline.rows[0]).toMatchObject({ id: "root", durationMs: 3000, isOpen: true });
  });

  it("renders only the rows in view", () => {
    expect(visibleRange(0, 280, 28, 10_000, 0)).toEqual([0, 10]);
    expect(visibleRange(28 * 5000, 280, 28, 10_000, 2)).toEqual([4998, 5012]);
    expect(visibleRange(28 * 9995, 280, 28, 10_000, 2)).toEqual([9993, 10_000]);
  });
});
