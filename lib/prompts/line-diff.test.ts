import { describe, expect, it } from "vitest";
import { diffLines, foldUnchanged, splitLines, type DiffLine } from "./line-diff";

function render(lines: DiffLine[]): string[] {
  return lines.map((l) => `${l.kind === "same" ? " " : l.kind === "added" ? "+" : "-"}${l.text}`);
}

/** The textbook O(n·m) table, as the reference for the LCS length. */
function referenceLcsLength(a: string[], b: string[]): number {
  const table = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      table[i]![j] = a[i - 1] === b[j - 1] ? table[i - 1]![j - 1]! + 1 : Math.max(table[i - 1]![j]!, table[i]![j - 1]!);
    }
  }
  return table[a.length]![b.length]!;
}

function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe("diffLines", () => {
  it("marks every line the same for identical texts", () => {
    const diff = diffLines("a\nb\nc", "a\nb\nc");
    expect(render(diff.lines)).toEqual([" a", " b", " c"]);
    expect([diff.added, diff.removed]).toEqual([0, 0]);
  });

  it("shows a changed line as a removal followed by an addition, with line numbers", () => {
    const diff = diffLines("You are a triage nurse.\nBe brief.\nAnswer in English.", "You are a triage nurse.\nBe thorough.\nAnswer in English.");
    expect(render(diff.lines)).toEqual([" You are a triage nurse.", "-Be brief.", "+Be thorough.", " Answer in English."]);
    expect(diff.lines[1]).toEqual({ kind: "removed", text: "Be brief.", oldNumber: 2, newNumber: null });
    expect(diff.lines[2]).toEqual({ kind: "added", text: "Be thorough.", oldNumber: null, newNumber: 2 });
    expect(diff.lines[3]).toMatchObject({ oldNumber: 3, newNumber: 3 });
  });

  it("handles insertions, deletions and empty texts", () => {
    expect(render(diffLines("a\nc", "a\nb\nc").lines)).toEqual([" a", "+b", " c"]);
    expect(render(diffLines("a\nb\nc", "a\nc").lines)).toEqual([" a", "-b", " c"]);
    expect(render(diffLines("", "x\ny").lines)).toEqual(["+x", "+y"]);
    expect(render(diffLines("x\ny", "").lines)).toEqual(["-x", "-y"]);
    expect(diffLines("", "").lines).toEqual([]);
  });

  it("keeps the longest run of shared lines when lines move", () => {
    const diff = diffLines("a\nb\nc\nd\ne", "b\nc\nd\na\ne");
    expect(diff.lines.filter((l) => l.kind === "same").map((l) => l.text)).toEqual(["b", "c", "d", "e"]);
    expect([diff.added, diff.removed]).toEqual([1, 1]);
  });

  it("treats CRLF and LF line ends alike and ignores one trailing newline", () => {
    expect(splitLines("a\r\nb\n")).toEqual(["a", "b"]);
    expect(render(diffLines("a\r\nb\r\n", "a\nb").lines)).toEqual([" a", " b"]);
  });

  it("finds a longest common subsequence and rebuilds both texts, on random inputs", () => {
    const random = seeded(7);
    for (let round = 0; round < 200; round++) {
      const alphabet = ["alpha", "beta", "gamma", "delta", ""];
      const make = () => Array.from({ length: Math.floor(random() * 14) }, () => alphabet[Math.floor(random() * alphabet.length)]!);
      const a = make();
      const b = make();
      const diff = diffLines(a.join("\n"), b.join("\n"));
      const oldSide = diff.lines.filter((l) => l.kind !== "added").map((l) => l.text);
      const newSide = diff.lines.filter((l) => l.kind !== "removed").map((l) => l.text);
      expect(oldSide).toEqual(splitLines(a.join("\n")));
      expect(newSide).toEqual(splitLines(b.join("\n")));
      const same = diff.lines.filter((l) => l.kind === "same").length;
      expect(same).toBe(referenceLcsLength(splitLines(a.join("\n")), splitLines(b.join("\n"))));
    }
  });

  it("diffs two 5,000-line prompts quickly", () => {
    const a = Array.from({ length: 5000 }, (_, i) => `line ${i % 97} ${i % 13}`);
    const b = a.map((line, i) => (i % 50 === 0 ? `${line} changed` : line));
    const t0 = performance.now();
    const diff = diffLines(a.join("\n"), b.join("\n"));
    expect(performance.now() - t0).toBeLessThan(5000);
    expect([diff.added, diff.removed]).toEqual([100, 100]);
  });
});

describe("foldUnchanged", () => {
  it("keeps context around changes and folds the rest", () => {
    const oldText = Array.from({ length: 20 }, (_, i) => `l${i + 1}`).join("\n");
    const newText = oldText.replace("l10", "L10");
    const rows = foldUnchanged(diffLines(oldText, newText).lines, 2);
    expect(rows.map((r) => (r.kind === "skipped" ? `…${r.count}` : `${r.kind[0]}${r.text}`))).toEqual([
      "…7",
      "sl8",
      "sl9",
      "rl10",
      "aL10",
      "sl11",
      "sl12",
      "…8",
    ]);
  });

  it("folds nothing away when there is no change", () => {
    expect(foldUnchanged(diffLines("a\nb", "a\nb").lines)).toEqual([{ kind: "skipped", count: 2 }]);
  });
});
