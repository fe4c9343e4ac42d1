import type { LoopType } from "@/lib/runtime/definition";
import type { FrameStatus } from "@/lib/runtime/types";

export function formatDuration(ms: number | null): string {
  if (ms === null) return "—";
  if (ms === 0) return "0";
  if (ms < 1) return "<1 ms";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function formatTokens(tokens: number): string {
  if (tokens < 1000) return `${tokens} tok`;
  return `${(tokens / 1000).toFixed(tokens < 10_000 ? 1 : 0)}k tok`;
}

export function formatTime(iso: string | null): string {
  if (iso === null) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().replace("T", " ").replace("Z", " UTC");
}

/** Tailwind classes per loop type (the node's accent) and per status (its pill). */
export const TYPE_STYLE: Record<LoopType, { accent: string; label: string }> = {
  llm: { accent: "border-l-violet-500", label: "text-violet-700 dark:text-violet-300" },
  mcp: { accent: "border-l-sky-500", label: "text-sky-700 dark:text-sky-300" },
  http: { accent: "border-l-amber-500", label: "text-amber-700 dark:text-amber-300" },
};

export const STATUS_STYLE: Record<FrameStatus, string> = {
  queued: "bg-zinc-100 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300",
  running: "bg-blue-100 text-blue-800 dark:bg-blue-950 dark:text-blue-300",
  succeeded: "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300",
  failed: "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-300",
  denied: "bg-orange-100 text-orange-800 dark:bg-orange-950 dark:text-orange-300",
  cancelled: "bg-zinc-200 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-400",
};

/** Solid colours for places that take a colour value rather than a class (minimap, bars). */
export const STATUS_COLOR: Record<FrameStatus, string> = {
  queued: "#a1a1aa",
  running: "#3b82f6",
  succeeded: "#10b981",
  failed: "#ef4444",
  denied: "#f97316",
  cancelled: "#71717a",
};
