"use client";

import { useId, useMemo, useState, useSyncExternalStore, type KeyboardEvent, type ReactNode } from "react";
import type { TraceFrame } from "@/lib/runtime/types";
import { buildFlowGraph, type FlowGraph } from "./build-flow-graph";
import { Inspector, type InspectorProps } from "./inspector";
import { searchTrace } from "./search-trace";
import { Timeline } from "./timeline";
import { TraceGraph, type FocusRequest } from "./trace-graph";
import { expandPathTo, growExpansion, indexTrace, neighbour, type Direction, type TraceIndex } from "./trace-index";

/** About this many frames are on screen when a trace opens; the rest wait behind "+N". */
const OPEN_BUDGET = 200;

interface GraphView {
  index: TraceIndex;
  expanded: ReadonlySet<string>;
  /** Frames the person collapsed: live updates must not open them again. */
  closed: ReadonlySet<string>;
  graph: FlowGraph;
}

function makeView(index: TraceIndex, expanded: ReadonlySet<string>, closed: ReadonlySet<string>, previous?: GraphView): GraphView {
  const isSame = previous !== undefined && previous.index === index && previous.expanded === expanded;
  return { index, expanded, closed, graph: isSame ? previous.graph : buildFlowGraph(index, expanded, previous?.graph) };
}

type Tab = "graph" | "timeline" | "list";

export interface TraceExplorerProps {
  runId: string;
  /** The Loop Stack Tree (null before the first frame is recorded); pass each new version while the run executes. */
  trace: TraceFrame | null;
  /** The frame to open on, from the page's `?frame=` (a deep link). */
  initialFrameId?: string | null;
  /** The nested-list rendering of the same trace, shown as a third tab. */
  listView?: ReactNode;
  /** Fetch each opened frame's prompt text from the server (off for synthetic traces). */
  loadPromptDetails?: boolean;
  /** Lets the inspector score a frame; absent for viewers who may not. */
  scoreAction?: InspectorProps["scoreAction"];
}

/**
 * The trace explorer: graph and timeline of one run, search, keyboard moves and the
 * inspector. The selected frame lives in the URL (`?frame=<id>`) so a view can be shared.
 */
export function TraceExplorer(props: TraceExplorerProps) {
  if (!props.trace) {
    return (
      <p role="status" className="rounded-lg border border-zinc-200 bg-white p-6 text-sm text-zinc-600 dark:border-zinc-800 dark:bg-zinc-950 dark:text-zinc-400">
        No frames recorded yet. The trace appears here as soon as the run starts its first loop.
      </p>
    );
  }
  return <Explorer {...props} trace={props.trace} />;
}

const subscribeToNothing = () => () => {};

/**
 * The explorer for a trace handed over by a server component as JSON text. React's RSC
 * encoding of a 10,000-frame object tree costs seconds on the server and again in the
 * browser; a string costs one `JSON.parse`, done here in the browser only (the graph is
 * drawn in the browser anyway).
 */
export function TraceExplorerFromJson({ traceJson, ...props }: Omit<TraceExplorerProps, "trace"> & { traceJson: string }) {
  const isBrowser = useSyncExternalStore(subscribeToNothing, () => true, () => false);
  const trace = useMemo(() => (isBrowser ? (JSON.parse(traceJson) as TraceFrame | null) : undefined), [isBrowser, traceJson]);
  if (trace === undefined) {
    return (
      <p role="status" className="rounded-lg border border-zinc-200 bg-white p-6 text-sm text-zinc-600 dark:border-zinc-800 dark:bg-zinc-950 dark:text-zinc-400">
        Loading the trace…
      </p>
    );
  }
  return <TraceExplorer {...props} trace={trace} />;
}

function Explorer({ runId, trace, initialFrameId: linkedFrameId = null, listView, loadPromptDetails = true, scoreAction }: TraceExplorerProps & { trace: TraceFrame }) {
  const ids = useId();
  const index = useMemo(() => indexTrace(trace), [trace]);
  const [initialFrameId] = useState(() => (linkedFrameId && index.byId.has(linkedFrameId) ? linkedFrameId : null));
  const [selectedId, setSelectedId] = useState<string | null>(initialFrameId);
  const [isInspectorOpen, setInspectorOpen] = useState(initialFrameId !== null);
  const [tab, setTab] = useState<Tab>("graph");
  const [query, setQuery] = useState("");
  const [matchCursor, setMatchCursor] = useState(0);
  const [focusRequest, setFocusRequest] = useState<FocusRequest | null>(null);
  const [view, setView] = useState<GraphView>(() => {
    const opened = growExpansion(index, new Set(), OPEN_BUDGET);
    return makeView(index, initialFrameId ? expandPathTo(index, opened, initialFrameId) : opened, new Set());
  });

  // A live run delivers a new trace on every poll: keep what is open, open new frames while
  // they fit, and leave alone what the person closed.
  if (view.index !== index) {
    setView(makeView(index, growExpansion(index, view.expanded, OPEN_BUDGET, view.closed), view.closed, view));
  }

  const matches = useMemo(() => searchTrace(index, query), [index, query]);
  const visibleMatches = useMemo(() => matches.filter((id) => view.graph.positions.has(id)), [matches, view.graph]);

  // The URL follows the selection (without a navigation) so that the address is a link to the frame.
  const choose = (id: string) => {
    setSelectedId(id);
    const url = new URL(window.location.href);
    url.searchParams.set("frame", id);
    if (url.href !== window.location.href) window.history.replaceState(null, "", url);
  };

  const reveal = (id: string, options: { open: boolean; moveFocus: boolean }) => {
    setView((current) => {
      const expanded = expandPathTo(current.index, current.expanded, id);
      if (expanded === current.expanded) return current;
      const closed = new Set(current.closed);
      for (const opened of expanded) closed.delete(opened);
      return makeView(current.index, expanded, closed, current);
    });
    choose(id);
    if (options.open) setInspectorOpen(true);
    setFocusRequest((previous) => ({ id, moveFocus: options.moveFocus, nonce: (previous?.nonce ?? 0) + 1 }));
  };

  const select = (id: string) => {
    choose(id);
    setInspectorOpen(true);
  };

  const toggle = (id: string) => {
    setView((current) => {
      const expanded = new Set(current.expanded);
      const closed = new Set(current.closed);
      if (expanded.has(id)) {
        expanded.delete(id);
        closed.add(id);
      } else {
        expanded.add(id);
        closed.delete(id);
      }
      return makeView(current.index, expanded, closed, current);
    });
  };

  const navigate = (fromId: string, direction: Direction) => {
    const target = neighbour(index, fromId, direction);
    if (target) reveal(target.id, { open: false, moveFocus: true });
  };

  const search = (text: string) => {
    setQuery(text);
    setMatchCursor(0);
    const first = searchTrace(index, text)[0];
    if (first) reveal(first, { open: false, moveFocus: false });
  };

  const step = (delta: number) => {
    if (matches.length === 0) return;
    const next = (matchCursor + delta + matches.length) % matches.length;
    setMatchCursor(next);
    reveal(matches[next]!, { open: false, moveFocus: false });
  };

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    if (event.key === "Escape" && isInspectorOpen) {
      event.preventDefault();
      setInspectorOpen(false);
    }
  };

  const selected = selectedId ? index.byId.get(selectedId) : undefined;
  const tabs: [Tab, string][] = [
    ["graph", "Graph"],
    ["timeline", "Timeline"],
    ...(listView ? ([["list", "List"]] as [Tab, string][]) : []),
  ];
  const cursor = Math.min(matchCursor, Math.max(0, matches.length - 1));

  return (
    <div
      role="region"
      aria-label="Trace explorer"
      onKeyDown={onKeyDown}
      className="flex h-[calc(100vh-11rem)] min-h-[32rem] flex-col overflow-hidden rounded-lg border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-950"
    >
      <div className="flex flex-wrap items-center gap-3 border-b border-zinc-200 px-3 py-2 dark:border-zinc-800">
        <div role="tablist" aria-label="Trace views" className="flex gap-1">
          {tabs.map(([key, label]) => (
            <button
              key={key}
              type="button"
              role="tab"
              id={`${ids}-tab-${key}`}
              aria-selected={tab === key}
              aria-controls={`${ids}-panel-${key}`}
              onClick={() => setTab(key)}
              className={`rounded-md px-3 py-1 text-sm font-medium ${
                tab === key ? "bg-zinc-900 text-white dark:bg-zinc-100 dark:text-zinc-900" : "text-zinc-600 hover:bg-zinc-100 dark:text-zinc-400 dark:hover:bg-zinc-800"
              }`}
            >
              {label}
            </button>
          ))}
        </div>
        <form
          role="search"
          className="ml-auto flex items-center gap-1.5"
          onSubmit={(event) => {
            event.preventDefault();
            step(1);
          }}
        >
          <input
            type="search"
            value={query}
            onChange={(event) => search(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === "Enter" && event.shiftKey) {
                event.preventDefault();
                step(-1);
              }
            }}
            aria-label="Search frames"
            placeholder="Search loop, status, error, tool"
            className="w-64 rounded-md border border-zinc-300 bg-white px-2.5 py-1 text-sm dark:border-zinc-700 dark:bg-zinc-900"
          />
          <span role="status" aria-label="Search results" className="min-w-16 text-xs tabular-nums text-zinc-500">
            {query.trim() === "" ? "" : matches.length === 0 ? "No matches" : `${cursor + 1} of ${matches.length}`}
          </span>
          <button
            type="button"
            onClick={() => step(-1)}
            disabled={matches.length === 0}
            aria-label="Previous match"
            className="rounded-md border border-zinc-300 px-2 py-1 text-sm disabled:opacity-40 dark:border-zinc-700"
          >
            ↑
          </button>
          <button
            type="button"
            onClick={() => step(1)}
            disabled={matches.length === 0}
            aria-label="Next match"
            className="rounded-md border border-zinc-300 px-2 py-1 text-sm disabled:opacity-40 dark:border-zinc-700"
          >
            ↓
          </button>
        </form>
      </div>

      <div className="flex min-h-0 flex-1">
        <div className="relative min-w-0 flex-1">
          <div role="tabpanel" id={`${ids}-panel-graph`} aria-labelledby={`${ids}-tab-graph`}
            aria-describedby={`${ids}-help`}
            hidden={tab !== "graph"} className="h-full">
            <TraceGraph
              graph={view.graph}
              selectedId={selectedId}
              matchIds={visibleMatches}
              focusRequest={focusRequest}
              initialFrameId={initialFrameId}
              isActive={tab === "graph"}
              onSelect={select}
              onToggle={toggle}
              onNavigate={navigate}
            />
          </div>
          {tab === "timeline" && (
            <div role="tabpanel" id={`${ids}-panel-timeline`} aria-labelledby={`${ids}-tab-timeline`} className="h-full">
              <Timeline index={index} selectedId={selectedId} onSelect={select} />
            </div>
          )}
          {tab === "list" && listView && (
            <div role="tabpanel" id={`${ids}-panel-list`} aria-labelledby={`${ids}-tab-list`} className="h-full overflow-auto p-3">
              {listView}
            </div>
          )}
        </div>
        {isInspectorOpen && selected && tab !== "list" && (
          <div className="w-[28rem] max-w-[45%] shrink-0 border-l border-zinc-200 dark:border-zinc-800">
            <Inspector
              runId={runId}
              frame={selected}
              index={index}
              loadPromptDetails={loadPromptDetails}
              onOpenFrame={(id) => reveal(id, { open: true, moveFocus: false })}
              onClose={() => setInspectorOpen(false)}
              {...(scoreAction ? { scoreAction } : {})}
            />
          </div>
        )}
      </div>
      <p className="sr-only" id={`${ids}-help`}>
        In the graph, arrow keys move between frames: up to the caller, down to the first child, left and right between siblings. Enter
        opens the inspector; Escape closes it.
      </p>
    </div>
  );
}
