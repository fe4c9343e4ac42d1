import { describe, expect, it } from "vitest";
import { diffDefinitions, formatDefinition, pickRevisionPair } from "./definition-diff";

const base = {
  id: "summarize",
  realm: "support",
  type: "llm",
  llm: { model: "gpt-4o", maxTokens: 512, systemPrompt: "Summarize." },
};

function changes(from: unknown, to: unknown): string[] {
  return diffDefinitions(from, to)
    .lines.filter((line) => line.kind !== "same")
    .map((line) => `${line.kind === "added" ? "+" : "-"}${line.text}`);
}

describe("formatDefinition", () => {
  it("sorts keys at every level and indents by two spaces", () => {
    expect(formatDefinition({ type: "http", id: "x", http: { url: "u", method: "GET" } })).toBe(
      ['{', '  "http": {', '    "method": "GET",', '    "url": "u"', "  },", '  "id": "x",', '  "type": "http"', "}"].join("\n"),
    );
  });

  it("drops undefined values the way the stored definition does", () => {
    expect(formatDefinition({ id: "x", description: undefined })).toBe('{\n  "id": "x"\n}');
  });
});

describe("diffDefinitions", () => {
  it("finds no change when only the key order differs", () => {
    const reordered = { llm: { systemPrompt: "Summarize.", maxTokens: 512, model: "gpt-4o" }, type: "llm", realm: "support", id: "summarize" };
    const diff = diffDefinitions(base, reordered);
    expect(diff.added).toBe(0);
    expect(diff.removed).toBe(0);
    expect(diff.lines.every((line) => line.kind === "same")).toBe(true);
  });

  it("shows a changed value as one line removed and one added", () => {
    expect(changes(base, { ...base, llm: { ...base.llm, maxTokens: 1024 } })).toEqual(['-    "maxTokens": 512,', '+    "maxTokens": 1024,']);
  });

  it("shows an added field with line numbers only in the newer revision", () => {
    const diff = diffDefinitions(base, { ...base, description: "Short summaries" });
    const added = diff.lines.filter((line) => line.kind === "added");
    expect(added).toEqual([{ kind: "added", text: '  "description": "Short summaries",', oldNumber: null, newNumber: 2 }]);
    expect(diff.removed).toBe(0);
  });

  it("shows an added tool as added lines inside the tools array", () => {
    const withTools = { ...base, tools: [{ name: "lookup", loopRef: "lookup-order" }] };
    expect(changes(base, withTools)).toEqual(['+  "tools": [', "+    {", '+      "loopRef": "lookup-order",', '+      "name": "lookup"', "+    }", "+  ],"]);
  });
});

describe("pickRevisionPair", () => {
  it("compares the previous revision with the current one by default", () => {
    expect(pickRevisionPair([3, 2, 1], {})).toEqual({ a: 2, b: 3 });
  });

  it("keeps the revisions asked for when they exist", () => {
    expect(pickRevisionPair([3, 2, 1], { a: 1, b: 2 })).toEqual({ a: 1, b: 2 });
  });

  it("falls back for revisions that do not exist", () => {
    expect(pickRevisionPair([3, 2, 1], { a: 7, b: 9 })).toEqual({ a: 2, b: 3 });
    expect(pickRevisionPair([3, 2, 1], { b: 2 })).toEqual({ a: 1, b: 2 });
  });

  it("compares a lone revision with itself and gives nothing without revisions", () => {
    expect(pickRevisionPair([1], {})).toEqual({ a: 1, b: 1 });
    expect(pickRevisionPair([], {})).toBeNull();
  });
});
