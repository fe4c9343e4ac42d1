import type { TraceFrame } from "@/lib/runtime/types";
import type { TraceIndex } from "./trace-index";

function matches(frame: TraceFrame, needle: string): boolean {
  if (frame.id === needle) return true;
  if (frame.loop.id.toLowerCase().includes(needle)) return true;
  if (frame.status.includes(needle)) return true;
  if (frame.error && frame.error.code.toLowerCase().includes(needle)) return true;
  for (const call of frame.toolCalls) if (call.name.toLowerCase().includes(needle)) return true;
  return false;
}

/**
 * Frames whose loop id, status, error code or tool names contain the query (case-insensitive),
 * or whose id is the query, in depth-first order. An empty query matches nothing.
 */
export function searchTrace(index: TraceIndex, query: string): string[] {
  const needle = query.trim().toLowerCase();
  if (needle === "") return [];
  const found: string[] = [];
  for (const frame of index.order) if (matches(frame, needle)) found.push(frame.id);
  return found;
}
