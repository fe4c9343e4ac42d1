import type { FrameStatus } from "@/lib/runtime/types";
import type { TraceIndex } from "./trace-index";

export interface TimelineRow {
  id: string;
  loopId: string;
  status: FrameStatus;
  depth: number;
  /** Milliseconds from the start of the run to the start of the frame. */
  offsetMs: number;
  durationMs: number;
  /** Still running: the bar reaches `now`. */
  isOpen: boolean;
}

export interface Timeline {
  rows: TimelineRow[];
  /** From the start of the run to the end of its last frame (or `now` while it runs). */
  totalMs: number;
  startedAt: number;
}

function time(value: string | null): number | null {
  if (value === null) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/** The latest moment the trace records: where bars of running frames end without a clock. */
function latestRecorded(index: TraceIndex): number {
  let latest = -Infinity;
  for (const frame of index.order) {
    for (const value of [frame.createdAt, frame.startedAt, frame.endedAt]) {
      const ms = time(value);
      if (ms !== null && ms > latest) latest = ms;
    }
    for (const attempt of frame.attempts) {
      const ms = time(attempt.endedAt);
      if (ms !== null && ms > latest) latest = ms;
    }
    for (const call of frame.toolCalls) {
      const ms = time(call.endedAt) ?? time(call.startedAt);
      if (ms !== null && ms > latest) latest = ms;
    }
  }
  return latest;
}

/**
 * One waterfall row per frame, depth-first, with bar offsets relative to the run start.
 * Running frames reach `now`, by default the latest moment the trace records, so the picture
 * depends on the data alone and not on the viewer's clock.
 */
export function buildTimeline(index: TraceIndex, now: number = latestRecorded(index)): Timeline {
  const root = index.root;
  const runStart = time(root.startedAt) ?? time(root.createdAt) ?? (Number.isFinite(now) ? now : 0);
  let runEnd = runStart;
  const rows: TimelineRow[] = [];
  for (const frame of index.order) {
    const start = time(frame.startedAt) ?? time(frame.createdAt) ?? runStart;
    const ended = time(frame.endedAt);
    const isOpen = ended === null && (frame.status === "running" || frame.status === "queued");
    const end = ended ?? (isOpen ? Math.max(now, start) : start);
    if (end > runEnd) runEnd = end;
    rows.push({
      id: frame.id,
      loopId: frame.loop.id,
      status: frame.status,
      depth: frame.depth - root.depth,
      offsetMs: Math.max(0, start - runStart),
      durationMs: Math.max(0, end - start),
      isOpen,
    });
  }
  return { rows, totalMs: Math.max(1, runEnd - runStart), startedAt: runStart };
}

/** Which rows a scrolled list shows: the rows in view plus `overscan` on each side. */
export function visibleRange(scrollTop: number, viewportHeight: number, rowHeight: number, rowCount: number, overscan = 8): [number, number] {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(rowCount, Math.ceil((scrollTop + viewportHeight) / rowHeight) + overscan);
  return [first, Math.max(first, last)];
}
