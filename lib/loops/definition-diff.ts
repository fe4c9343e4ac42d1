import { canonicalJson } from "../canonical-json";
import { diffLines, type LineDiff } from "../prompts/line-diff";

/**
 * A definition as pretty-printed JSON with keys sorted at every level, so two revisions line up
 * key by key whatever order their authors wrote them in.
 */
export function formatDefinition(definition: unknown): string {
  const canonical = canonicalJson(definition);
  // canonicalJson yields undefined for undefined; an absent definition reads as empty.
  if (canonical === undefined) return "";
  return JSON.stringify(JSON.parse(canonical), null, 2);
}

export function diffDefinitions(from: unknown, to: unknown): LineDiff {
  return diffLines(formatDefinition(from), formatDefinition(to));
}

/**
 * The pair of revisions to compare: the ones asked for when they exist, otherwise the one
 * before the current revision against the current one. `revisions` is newest first.
 */
export function pickRevisionPair(revisions: number[], asked: { a?: number; b?: number }): { a: number; b: number } | null {
  const newest = revisions[0];
  if (newest === undefined) return null;
  const exists = (n: number | undefined): n is number => n !== undefined && revisions.includes(n);
  const b = exists(asked.b) ? asked.b : newest;
  const a = exists(asked.a) ? asked.a : (revisions.find((n) => n < b) ?? b);
  return { a, b };
}
