import { displayText } from "./format";

/**
 * Read-only JSON, scrollable, with a bounded height so a large payload cannot swamp a page.
 * A string value (a model's text answer) is shown as text, its line breaks intact; either way,
 * characters that reorder text are shown as codes (`visibleControls`).
 */
export function JsonBlock({ value, label, maxHeight = "24rem" }: { value: unknown; label: string; maxHeight?: string }) {
  const isText = typeof value === "string";
  return (
    <pre
      aria-label={label}
      tabIndex={0}
      style={{ maxHeight }}
      className={`overflow-auto whitespace-pre-wrap break-words rounded-md border border-zinc-200 bg-zinc-50 p-3 text-xs leading-relaxed text-zinc-800 dark:border-zinc-800 dark:bg-zinc-950 dark:text-zinc-200 ${
        isText ? "font-sans" : "font-mono"
      }`}
    >
      {displayText(value)}
    </pre>
  );
}
