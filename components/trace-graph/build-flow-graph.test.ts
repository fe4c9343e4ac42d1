import { describe, expect, it } from "vitest";
import { buildFlowGraph, NODE_HEIGHT, NODE_WIDTH, type FlowGraph } from "./build-flow-graph";
import { syntheticTrace } from "./synthetic-trace";
import { frame } from "./test-frames";
import { growExpansion, indexTrace } from "./trace-index";

function assertTidy(graph: FlowGraph): void {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  for (const edge of graph.edges) {
    const parent = byId.get(edge.source)!;
    const child = byId.get(edge.target)!;
    expect(parent.position.y + NODE_HEIGHT, `${edge.source} above ${edge.target}`).toBeLessThan(child.position.y);
  }
  const rows = new Map<number, number[]>();
  for (const node of graph.nodes) rows.set(node.position.y, [...(rows.get(node.position.y) ?? []), node.position.x]);
  for (const xs of rows.values()) {
    xs.sort((a, b) => a - b);
    for (let i = 1; i < xs.length; i++) expect(xs[i]! - xs[i - 1]!).toBeGreaterThanOrEqual(NODE_WIDTH);
  }
}

describe("buildFlowGraph", () => {
  const tree = frame("root", [frame("a", [frame("a1"), frame("a2", [frame("a2x")])]), frame("b"), frame("c", [frame("c1")])]);
  const index = indexTrace(tree);

  it("lays out only expanded frames, parents above children, no overlap on a row", () => {
    const graph = buildFlowGraph(index, new Set(["root", "a"]));
    expect(graph.nodes.map((n) => n.id).sort()).toEqual(["a", "a1", "a2", "b", "c", "root"]);
    expect(graph.edges.map((e) => e.id).sort()).toEqual(["a->a1", "a->a2", "root->a", "root->b", "root->c"]);
    assertTidy(graph);
  });

  it("gives each node its size and handles so React Flow need not measure it", () => {
    const graph = buildFlowGraph(index, new Set(["root"]));
    for (const node of graph.nodes) {
      expect(node).toMatchObject({ width: NODE_WIDTH, height: NODE_HEIGHT, type: "frame", draggable: false, selectable: false });
      expect(node.handles?.map((h) => h.type).sort()).toEqual(["source", "target"]);
    }
  });

  it("shows how many frames a collapsed subtree hides", () => {
    const graph = buildFlowGraph(index, new Set(["root"]));
    const data = Object.fromEntries(graph.nodes.map((n) => [n.id, n.data]));
    expect(data.a).toMatchObject({ hiddenCount: 3, isExpanded: false, childCount: 2 });
    expect(data.c).toMatchObject({ hiddenCount: 1, isExpanded: false });
    expect(data.b).toMatchObject({ hiddenCount: 0, childCount: 0 });
    expect(data.root).toMatchObject({ hiddenCount: 0, isExpanded: true, isRoot: true });
  });

  it("keeps the objects of unchanged nodes and edges across rebuilds", () => {
    const first = buildFlowGraph(index, new Set(["root"]));
    const again = buildFlowGraph(index, new Set(["root"]), first);
    expect(again.nodes.every((n, i) => n === first.nodes[i])).toBe(true);
    expect(again.edges.every((e, i) => e === first.edges[i])).toBe(true);

    const grown = indexTrace(frame("root", [frame("a", [frame("a1"), frame("a2", [frame("a2x")])]), frame("b", [], { status: "failed" }), frame("c", [frame("c1")])]));
    const updated = buildFlowGraph(grown, new Set(["root"]), first);
    const changed = updated.nodes.filter((n, i) => n !== first.nodes[i]).map((n) => n.id);
    expect(changed).toEqual(["b"]);
  });

  it("builds a 10,000-frame trace collapsed to about 200 frames within 200 ms", () => {
    const big = syntheticTrace({ frames: 10_000, seed: 7 });
    const started = performance.now();
    const bigIndex = indexTrace(big);
    const expanded = growExpansion(bigIndex, new Set(), 200);
    const graph = buildFlowGraph(bigIndex, expanded);
    const elapsed = performance.now() - started;
    expect(bigIndex.order).toHaveLength(10_000);
    expect(graph.nodes.length).toBeGreaterThan(100);
    expect(graph.nodes.length).toBeLessThanOrEqual(200);
    expect(graph.edges).toHaveLength(graph.nodes.length - 1);
    assertTidy(graph);
    expect(elapsed).toBeLessThan(200);
  });

  it("stays tidy when every frame of a large trace is expanded", () => {
    const big = syntheticTrace({ frames: 3_000, seed: 3 });
    const bigIndex = indexTrace(big);
    const graph = buildFlowGraph(bigIndex, new Set(bigIndex.byId.keys()));
    expect(graph.nodes).toHaveLength(3_000);
    assertTidy(graph);
  });
});
