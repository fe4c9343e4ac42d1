import { describe, expect, it } from "vitest";
import { assembleDocument, parseSections, renderHeader, renderSection, renderTable, type Benchmark, type RunFacts } from "./report";

const facts: RunFacts = {
  command: "npm run bench -- a",
  startedAt: new Date("2026-01-02T03:04:05Z"),
  durationMs: 1500,
  nodeVersion: "v22.0.0",
  loadBefore: [0.5, 0.4, 0.3],
  loadAfter: [1, 0.9, 0.8],
};

const bench = (id: string): Benchmark => ({ id, title: `Bench ${id}`, run: async () => ({ summary: "", tables: [], targets: [] }) });

describe("docs/BENCHMARKS.md sections", () => {
  it("replaces the sections that ran and keeps the others where they were", () => {
    const first = assembleDocument(
      renderHeader("machine v1"),
      ["a", "b"],
      new Map(),
      new Map([
        ["a", renderSection(bench("a"), { summary: "a, first run", tables: [], targets: [] }, facts)],
        ["b", renderSection(bench("b"), { summary: "b, first run", tables: [], targets: [] }, facts)],
      ]),
    );
    const second = assembleDocument(
      renderHeader("machine v2"),
      ["a", "b"],
      parseSections(first),
      new Map([["a", renderSection(bench("a"), { summary: "a, second run", tables: [], targets: [] }, facts)]]),
    );
    expect(second).toContain("machine v2");
    expect(second).not.toContain("machine v1");
    expect(second).toContain("a, second run");
    expect(second).not.toContain("a, first run");
    expect(second).toContain("b, first run");
    expect(second.indexOf("Bench a")).toBeLessThan(second.indexOf("Bench b"));
    expect([...parseSections(second).keys()]).toEqual(["a", "b"]);
  });

  it("keeps a section whose benchmark is no longer listed, after the listed ones", () => {
    const old = assembleDocument(renderHeader("m"), ["gone"], new Map(), new Map([["gone", renderSection(bench("gone"), { summary: "old figures", tables: [], targets: [] }, facts)]]));
    const next = assembleDocument(renderHeader("m"), ["a"], parseSections(old), new Map([["a", renderSection(bench("a"), { summary: "new", tables: [], targets: [] }, facts)]]));
    expect([...parseSections(next).keys()]).toEqual(["a", "gone"]);
  });

  it("renders targets with whether each is met, and escapes pipes in cells", () => {
    const section = renderSection(
      bench("a"),
      { summary: "s", tables: [{ columns: ["x"], rows: [["a | b"]] }], targets: [{ target: "t ≤ 1", scope: "here", measured: "2", met: false }] },
      facts,
    );
    expect(section).toContain("| t ≤ 1 | here | 2 | **no** |");
    expect(section).toContain("a \\| b");
    expect(section).toContain("`npm run bench -- a`");
    expect(renderTable({ caption: "C", columns: ["x"], rows: [] })).toMatch(/^\*\*C\*\*\n\n\| x \|/);
  });
});
