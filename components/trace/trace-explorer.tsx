"use client";

import { useCallback, useMemo, useState } from "react";
import type { TraceFrame } from "@/lib/runtime/types";
import { cardClass } from "../ui/styles";
import { ancestorIds, buildTraceRows, defaultExpanded, indexFrames } from "./build-trace-rows";
import { FrameDetails } from "./frame-details";
import { TraceTree } from "./trace-tree";

/**
 * The trace as a nested list beside the selected frame's details. The selected frame is
 * kept in the URL (`?frame=<id>`) so a frame can be linked to.
 */
export function TraceExplorer({ trace, initialFrameId }: { trace: TraceFrame | null; initialFrameId: string | null }) {
  const index = useMemo(() => indexFrames(trace), [trace]);
  const [selectedId, setSelectedId] = useState<string | null>(initialFrameId && index.has(initialFrameId) ? initialFrameId : (trace?.id ?? null));
  // The person's own choices win over the defaults, which grow with a live trace.
  const [opened, setOpened] = useState<ReadonlySet<string>>(() => new Set(initialFrameId ? ancestorIds(index, initialFrameId) : []));
  const [closed, setClosed] = useState<ReadonlySet<string>>(new Set());

  const expanded = useMemo(() => {
    const set = defaultExpanded(trace);
    for (const id of opened) set.add(id);
    for (const id of closed) set.delete(id);
    return set;
  }, [trace, opened, closed]);
  const rows = useMemo(() => buildTraceRows(trace, expanded), [trace, expanded]);

  const toggle = useCallback((frameId: string, expand: boolean) => {
    setOpened((previous) => withMember(previous, frameId, expand));
    setClosed((previous) => withMember(previous, frameId, !expand));
  }, []);

  const select = useCallback(
    (frameId: string) => {
      setSelectedId(frameId);
      const path = ancestorIds(index, frameId);
      if (path.length > 0) {
        setOpened((previous) => new Set([...previous, ...path]));
        setClosed((previous) => new Set([...previous].filter((id) => !path.includes(id))));
      }
      const url = new URL(window.location.href);
      url.searchParams.set("frame", frameId);
      window.history.replaceState(null, "", url);
      requestAnimationFrame(() => document.querySelector<HTMLElement>(`[role="tree"] [data-key="${CSS.escape(frameId)}"]`)?.focus());
    },
    [index],
  );

  const selected = selectedId ? index.get(selectedId) : undefined;

  if (!trace) {
    return (
      <div className={`${cardClass} p-6 text-sm text-zinc-600 dark:text-zinc-400`} role="status">
        No frames recorded yet.
      </div>
    );
  }
  return (
    <div className="grid gap-4 lg:grid-cols-[minmax(0,1.15fr)_minmax(0,1fr)]">
      <div className={`${cardClass} min-w-0 self-start overflow-x-auto p-2`}>
        <TraceTree rows={rows} selectedId={selectedId} onSelect={select} onToggle={toggle} />
      </div>
      <div className={`${cardClass} min-w-0 lg:sticky lg:top-4 lg:max-h-[calc(100vh-2rem)] lg:self-start lg:overflow-y-auto`}>
        {selected ? (
          <FrameDetails frame={selected} frameIndex={index} onOpenFrame={select} />
        ) : (
          <p className="p-4 text-sm text-zinc-500">Select a frame to see its details.</p>
        )}
      </div>
    </div>
  );
}

function withMember(set: ReadonlySet<string>, id: string, present: boolean): ReadonlySet<string> {
  if (set.has(id) === present) return set;
  const next = new Set(set);
  if (present) next.add(id);
  else next.delete(id);
  return next;
}
