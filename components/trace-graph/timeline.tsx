"use client";

import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { formatDuration, STATUS_COLOR } from "./format";
import { buildTimeline, visibleRange } from "./timeline-rows";
import type { TraceIndex } from "./trace-index";

const ROW_HEIGHT = 28;
const LABEL_WIDTH = 300;
const INDENT = 12;

export interface TimelineProps {
  index: TraceIndex;
  selectedId: string | null;
  onSelect(id: string): void;
}

/**
 * The run as a waterfall: one row per frame, depth-first, with a bar from its start to its
 * end. Only the rows in view are in the DOM, so 10,000 frames scroll like 30.
 */
export function Timeline({ index, selectedId, onSelect }: TimelineProps) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 600 });
  const pendingFocus = useRef<number | null>(null);
  const timeline = useMemo(() => buildTimeline(index), [index]);
  const rowOf = useMemo(() => new Map(timeline.rows.map((row, i) => [row.id, i])), [timeline]);
  const [first, last] = visibleRange(view.top, view.height, ROW_HEIGHT, timeline.rows.length);

  useEffect(() => {
    const element = scrollRef.current;
    if (!element) return;
    const update = () => setView({ top: element.scrollTop, height: element.clientHeight });
    update();
    const observer = new ResizeObserver(update);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  // Bring the selected frame into view when it changes elsewhere (graph, search, inspector).
  useEffect(() => {
    const element = scrollRef.current;
    const row = selectedId ? rowOf.get(selectedId) : undefined;
    if (!element || row === undefined) return;
    const top = row * ROW_HEIGHT;
    if (top < element.scrollTop || top + ROW_HEIGHT > element.scrollTop + element.clientHeight) {
      element.scrollTop = Math.max(0, top - element.clientHeight / 3);
    }
  }, [selectedId, rowOf]);

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const current = (event.target as HTMLElement).closest<HTMLElement>("[data-row]");
    if (!current) return;
    event.preventDefault();
    const next = timeline.rows[Number(current.dataset.row) + (event.key === "ArrowDown" ? 1 : -1)];
    if (!next) return;
    onSelect(next.id);
    const row = Number(current.dataset.row) + (event.key === "ArrowDown" ? 1 : -1);
    const rendered = scrollRef.current?.querySelector<HTMLElement>(`[data-row="${row}"] button`);
    if (rendered) rendered.focus();
    else pendingFocus.current = row;
  };

  // A row scrolled in by a keyboard move gets the focus once it is rendered.
  useEffect(() => {
    const row = pendingFocus.current;
    if (row === null || row < first || row >= last) return;
    pendingFocus.current = null;
    scrollRef.current?.querySelector<HTMLElement>(`[data-row="${row}"] button`)?.focus({ preventScroll: true });
  }, [first, last, selectedId]);

  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <div className="flex h-full min-h-0 flex-col text-sm">
      <div className="flex border-b border-zinc-200 text-xs text-zinc-500 dark:border-zinc-800" aria-hidden>
        <div className="shrink-0 px-3 py-1.5" style={{ width: LABEL_WIDTH }}>
          {timeline.rows.length.toLocaleString("en")} frames · {formatDuration(timeline.totalMs)}
        </div>
        <div className="relative mr-4 flex-1">
          {ticks.map((t) => (
            <span key={t} className="absolute top-1.5 -translate-x-1/2 whitespace-nowrap tabular-nums first:translate-x-0 last:-translate-x-full" style={{ left: `${t * 100}%` }}>
              {formatDuration(t * timeline.totalMs)}
            </span>
          ))}
        </div>
      </div>
      <div
        ref={scrollRef}
        onScroll={(event) => setView({ top: event.currentTarget.scrollTop, height: event.currentTarget.clientHeight })}
        onKeyDown={onKeyDown}
        className="relative min-h-0 flex-1 overflow-auto"
        role="list"
        aria-label="Timeline of frames"
      >
        <div style={{ height: timeline.rows.length * ROW_HEIGHT }} className="relative">
          {timeline.rows.slice(first, last).map((row, i) => {
            const at = first + i;
            const isSelected = row.id === selectedId;
            const left = (row.offsetMs / timeline.totalMs) * 100;
            const width = Math.max(0.15, (row.durationMs / timeline.totalMs) * 100);
            const isLabelInside = left + width > 85 && width > 10;
            return (
              <div
                key={row.id}
                role="listitem"
                aria-setsize={timeline.rows.length}
                aria-posinset={at + 1}
                data-row={at}
                className="absolute inset-x-0 flex items-center"
                style={{ top: at * ROW_HEIGHT, height: ROW_HEIGHT }}
              >
                <button
                  type="button"
                  aria-label={`${row.loopId} ${row.status}`}
                  aria-current={isSelected ? "true" : undefined}
                  onClick={() => onSelect(row.id)}
                  className={`flex h-full w-full items-center text-left hover:bg-zinc-100 dark:hover:bg-zinc-900 ${isSelected ? "bg-indigo-100 shadow-[inset_3px_0_0_#6366f1] dark:bg-indigo-950" : ""}`}
                >
                  <span className="flex shrink-0 items-center gap-2 truncate px-3" style={{ width: LABEL_WIDTH, paddingLeft: 12 + Math.min(row.depth, 16) * INDENT }}>
                    <span className="inline-block size-2 shrink-0 rounded-full" style={{ background: STATUS_COLOR[row.status] }} />
                    <span className="truncate">{row.loopId}</span>
                  </span>
                  <span className="relative mr-4 h-full flex-1">
                    <span
                      className={`absolute top-1/2 h-3 -translate-y-1/2 rounded-sm ${row.isOpen ? "animate-pulse" : ""}`}
                      style={{ left: `${left}%`, width: `${width}%`, minWidth: 2, background: STATUS_COLOR[row.status] }}
                    />
                    <span
                      className={`absolute top-1/2 -translate-y-1/2 px-1 text-[11px] whitespace-nowrap tabular-nums ${isLabelInside ? "font-medium text-white" : "text-zinc-500"}`}
                      // A bar reaching the right edge carries its label inside; others have it just after their end.
                      style={isLabelInside ? { right: `${100 - left - width}%` } : { left: `${left + width}%` }}
                    >
                      {formatDuration(row.durationMs)}
                    </span>
                  </span>
                </button>
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
