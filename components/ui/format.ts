/**
 * Formatting shared by server and client components. Everything is deterministic (UTC, no
 * locale), so a server-rendered value and its hydrated twin never differ.
 */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1) return "<1 ms";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1_000);
  return `${minutes} min ${seconds} s`;
}

export function formatTokens(input: number, output: number): string {
  if (input + output === 0) return "—";
  return `${formatCount(input)} in · ${formatCount(output)} out`;
}

export function formatCount(n: number): string {
  if (n < 1_000) return String(n);
  if (n < 1_000_000) return `${(n / 1_000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** `2026-11-25 16:42:58 UTC` */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "—";
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}

/**
 * Characters that reorder the text around them (bidirectional embeddings, overrides, isolates and
 * marks). Shown as they are, `invoice\u202Egnp.exe` reads `invoiceexe.png` and can make a name in
 * a table read as its neighbour's; the console shows them as visible codes instead.
 */
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

const codePoint = (char: string) => char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");

/** Text from a loop, a run or a directory, with every bidirectional control shown as `⟨U+202E⟩`. */
export function visibleControls(text: string): string {
  return text.replace(BIDI_CONTROLS, (char) => `⟨U+${codePoint(char)}⟩`);
}

/**
 * Pretty JSON for display, bidirectional controls written as JSON escapes (`\u202E`), so the
 * text still reads as the JSON it is; values that cannot be serialised are shown as text.
 */
export function prettyJson(value: unknown): string {
  if (value === undefined) return "—";
  let text: string;
  try {
    text = JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return visibleControls(String(value));
  }
  return text.replace(BIDI_CONTROLS, (char) => `\\u${codePoint(char)}`);
}

/** A value as a page shows it: a string as text (a model's answer), anything else as pretty JSON; controls made visible either way. */
export function displayText(value: unknown): string {
  return typeof value === "string" ? visibleControls(value) : prettyJson(value);
}
