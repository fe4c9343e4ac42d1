/**
 * Line diff of two prompt versions, built on a longest common subsequence of lines. The LCS is
 * found with Hirschberg's divide and conquer: the same answer as the textbook table, in memory
 * linear in the shorter text, so a long prompt cannot exhaust the server.
 */

export interface DiffLine {
  kind: "same" | "added" | "removed";
  text: string;
  /** 1-based line number in the old text; null for added lines. */
  oldNumber: number | null;
  /** 1-based line number in the new text; null for removed lines. */
  newNumber: number | null;
}

export interface LineDiff {
  lines: DiffLine[];
  added: number;
  removed: number;
}

export function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/** Row `a.length` of the LCS length table of `a` against every prefix of `b`. */
function lcsRow(a: Int32Array, b: Int32Array): Int32Array {
  let previous = new Int32Array(b.length + 1);
  let current = new Int32Array(b.length + 1);
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < b.length; j++) {
      current[j + 1] = a[i] === b[j] ? previous[j]! + 1 : Math.max(previous[j + 1]!, current[j]!);
    }
    [previous, current] = [current, previous];
  }
  return previous;
}

/** Index pairs (i, j) of one longest common subsequence of `a` and `b`, offset by `ai`, `bj`. */
function lcsPairs(a: Int32Array, b: Int32Array, ai: number, bj: number, out: [number, number][]): void {
  if (a.length === 0 || b.length === 0) return;
  if (a.length === 1) {
    const j = b.indexOf(a[0]!);
    if (j >= 0) out.push([ai, bj + j]);
    return;
  }
  const mid = a.length >> 1;
  const forward = lcsRow(a.subarray(0, mid), b);
  const backward = lcsRow(a.slice(mid).reverse(), b.slice().reverse());
  let split = 0;
  let best = -1;
  for (let j = 0; j <= b.length; j++) {
    const length = forward[j]! + backward[b.length - j]!;
    if (length > best) {
      best = length;
      split = j;
    }
  }
  lcsPairs(a.subarray(0, mid), b.subarray(0, split), ai, bj, out);
  lcsPairs(a.subarray(mid), b.subarray(split), ai + mid, bj + split, out);
}

export function diffLines(oldText: string, newText: string): LineDiff {
  const oldLines = splitLines(oldText);
  const newLines = splitLines(newText);
  const ids = new Map<string, number>();
  const intern = (line: string) => {
    let id = ids.get(line);
    if (id === undefined) ids.set(line, (id = ids.size));
    return id;
  };
  const a = Int32Array.from(oldLines, intern);
  const b = Int32Array.from(newLines, intern);

  // Shared head and tail lines need no search.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;

  const pairs: [number, number][] = [];
  for (let k = 0; k < head; k++) pairs.push([k, k]);
  lcsPairs(a.subarray(head, a.length - tail), b.subarray(head, b.length - tail), head, head, pairs);
  for (let k = tail; k > 0; k--) pairs.push([a.length - k, b.length - k]);

  const lines: DiffLine[] = [];
  let i = 0;
  let j = 0;
  const emitUntil = (iEnd: number, jEnd: number) => {
    // Within a change, removals come before additions, as every reader of diffs expects.
    for (; i < iEnd; i++) lines.push({ kind: "removed", text: oldLines[i]!, oldNumber: i + 1, newNumber: null });
    for (; j < jEnd; j++) lines.push({ kind: "added", text: newLines[j]!, oldNumber: null, newNumber: j + 1 });
  };
  for (const [pi, pj] of pairs) {
    emitUntil(pi, pj);
    lines.push({ kind: "same", text: oldLines[i]!, oldNumber: i + 1, newNumber: j + 1 });
    i++;
    j++;
  }
  emitUntil(oldLines.length, newLines.length);
  return {
    lines,
    added: lines.filter((l) => l.kind === "added").length,
    removed: lines.filter((l) => l.kind === "removed").length,
  };
}

export type DiffRow = DiffLine | { kind: "skipped"; count: number };

/** Keeps `context` unchanged lines around each change and folds longer unchanged stretches. */
export function foldUnchanged(lines: DiffLine[], context = 3): DiffRow[] {
  const keep = new Array<boolean>(lines.length).fill(false);
  lines.forEach((line, index) => {
    if (line.kind === "same") return;
    for (let k = Math.max(0, index - context); k <= Math.min(lines.length - 1, index + context); k++) keep[k] = true;
  });
  const rows: DiffRow[] = [];
  let skipped = 0;
  lines.forEach((line, index) => {
    if (keep[index]) {
      if (skipped > 0) rows.push({ kind: "skipped", count: skipped });
      skipped = 0;
      rows.push(line);
    } else {
      skipped++;
    }
  });
  if (skipped > 0) rows.push({ kind: "skipped", count: skipped });
  return rows;
}
