"use client";

import { useRef, type KeyboardEvent } from "react";
import { Badge, TypeBadge } from "../ui/badge";
import { formatDuration, formatTokens } from "../ui/format";
import { StatusBadge } from "../ui/status-badge";
import { frameLabel, type TraceRow } from "./build-trace-rows";

interface TraceTreeProps {
  rows: TraceRow[];
  selectedId: string | null;
  onSelect: (frameId: string) => void;
  onToggle: (frameId: string, expand: boolean) => void;
}

/**
 * The Loop Stack Tree as an ARIA tree. Rendering only: rows come from `buildTraceRows`.
 * Keyboard: ↑/↓ move, → expands or enters, ← collapses or goes to the parent, Home/End,
 * Enter or Space opens the frame's details.
 */
export function TraceTree({ rows, selectedId, onSelect, onToggle }: TraceTreeProps) {
  const listRef = useRef<HTMLUListElement>(null);
  const focusedKey = rows.some((r) => r.key === selectedId) ? selectedId : (rows[0]?.key ?? null);

  const focusRow = (index: number) => {
    const row = rows[Math.max(0, Math.min(rows.length - 1, index))];
    if (!row) return;
    listRef.current?.querySelector<HTMLElement>(`[data-key="${CSS.escape(row.key)}"]`)?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLLIElement>, index: number) => {
    const row = rows[index]!;
    switch (event.key) {
      case "ArrowDown":
        focusRow(index + 1);
        break;
      case "ArrowUp":
        focusRow(index - 1);
        break;
      case "Home":
        focusRow(0);
        break;
      case "End":
        focusRow(rows.length - 1);
        break;
      case "ArrowRight":
        if (row.kind === "frame" && row.hasChildren && !row.isExpanded) onToggle(row.frame.id, true);
        else if (row.kind === "frame" && row.isExpanded) focusRow(index + 1);
        break;
      case "ArrowLeft":
        if (row.kind === "frame" && row.isExpanded) onToggle(row.frame.id, false);
        else if (row.parentId) focusRow(rows.findIndex((r) => r.key === row.parentId));
        break;
      case "Enter":
      case " ":
        onSelect(row.kind === "frame" ? row.frame.id : row.parentId);
        break;
      default:
        return;
    }
    event.preventDefault();
  };

  return (
    <ul ref={listRef} role="tree" aria-label="Trace" className="py-1 text-sm">
      {rows.map((row, index) => {
        const isSelected = row.kind === "frame" && row.frame.id === selectedId;
        const common = {
          "data-key": row.key,
          "aria-level": row.level,
          "aria-posinset": row.posInSet,
          "aria-setsize": row.setSize,
          tabIndex: row.key === focusedKey ? 0 : -1,
          onKeyDown: (event: KeyboardEvent<HTMLLIElement>) => onKeyDown(event, index),
          style: { paddingLeft: `${(row.level - 1) * 1.25 + 0.5}rem` },
        };
        if (row.kind === "tool-call") {
          const { call } = row;
          return (
            <li
              key={row.key}
              role="treeitem"
              aria-label={`tool ${call.name} ${call.isError ? "error" : "ok"}`}
              aria-selected={false}
              {...common}
              onClick={() => onSelect(row.parentId)}
              className="flex cursor-pointer items-center gap-2 rounded-md py-1.5 pr-2 text-zinc-600 hover:bg-zinc-100 dark:text-zinc-400 dark:hover:bg-zinc-800/60"
            >
              <span aria-hidden className="w-4" />
              <span aria-hidden className="text-zinc-400">
                ⚙
              </span>
              <span className="font-mono text-xs">{call.name}</span>
              <Badge title="Tool call without a child frame">{call.kind === "unknown" ? "unknown tool" : `${call.kind} tool`}</Badge>
              {call.isError ? <span className="text-xs font-medium text-red-600 dark:text-red-400">error</span> : null}
              <span className="ml-auto text-xs tabular-nums text-zinc-500">{formatDuration(call.durationMs)}</span>
            </li>
          );
        }
        const { frame } = row;
        return (
          <li
            key={row.key}
            role="treeitem"
            aria-label={frameLabel(frame)}
            aria-selected={isSelected}
            aria-expanded={row.hasChildren ? row.isExpanded : undefined}
            {...common}
            onClick={() => onSelect(frame.id)}
            className={`group flex cursor-pointer items-center gap-2 rounded-md py-1.5 pr-2 ${
              isSelected ? "bg-indigo-50 ring-1 ring-indigo-300 dark:bg-indigo-500/10 dark:ring-indigo-500/40" : "hover:bg-zinc-100 dark:hover:bg-zinc-800/60"
            }`}
          >
            {row.hasChildren ? (
              <span
                aria-hidden
                onClick={(event) => {
                  event.stopPropagation();
                  onToggle(frame.id, !row.isExpanded);
                }}
                className="grid size-4 place-items-center rounded text-zinc-500 hover:bg-zinc-200 dark:hover:bg-zinc-700"
              >
                <span className={`inline-block text-[10px] transition-transform ${row.isExpanded ? "rotate-90" : ""}`}>▶</span>
              </span>
            ) : (
              <span aria-hidden className="w-4" />
            )}
            <span className="truncate font-mono text-[13px] font-medium">{frame.loop.id}</span>
            {row.via ? <span className="hidden truncate text-xs text-zinc-500 md:inline">via {row.via.name}</span> : null}
            <TypeBadge type={frame.loop.type} />
            <StatusBadge status={frame.status} />
            <span className="ml-auto flex shrink-0 items-center gap-3 text-xs tabular-nums text-zinc-500 dark:text-zinc-400">
              {frame.prompt ? <span title="Prompt version">v{frame.prompt.version}</span> : null}
              <span className="hidden sm:inline" title="Tokens">
                {formatTokens(frame.usage.inputTokens, frame.usage.outputTokens)}
              </span>
              <span title="Duration" className="w-16 text-right">
                {frame.status === "running" ? "running…" : formatDuration(frame.durationMs)}
              </span>
            </span>
          </li>
        );
      })}
    </ul>
  );
}
