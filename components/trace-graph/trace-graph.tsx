"use client";

import {
  Background,
  Controls,
  Handle,
  MiniMap,
  Position,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type NodeProps,
  type NodeTypes,
  type Viewport,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { createContext, memo, useCallback, useContext, useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { NODE_HEIGHT, NODE_WIDTH, type FlowGraph, type FrameNode } from "./build-flow-graph";
import { formatDuration, formatTokens, STATUS_COLOR, STATUS_STYLE, TYPE_STYLE } from "./format";
import type { Direction } from "./trace-index";

/** A request to bring a frame into view; `moveFocus` also moves keyboard focus onto it. */
export interface FocusRequest {
  id: string;
  moveFocus: boolean;
  nonce: number;
}

interface GraphActions {
  select(id: string): void;
  toggle(id: string): void;
}

// Callbacks reach the nodes through a context that never changes, so a memoised node
// re-renders only when its own data does.
const GraphActionsContext = createContext<GraphActions>({ select() {}, toggle() {} });

const FrameNodeView = memo(function FrameNodeView({ id, data }: NodeProps<FrameNode>) {
  const actions = useContext(GraphActionsContext);
  const type = TYPE_STYLE[data.loopType];
  return (
    <div
      className={`trace-node pointer-events-auto relative rounded-lg border border-l-4 border-zinc-200 bg-white shadow-sm dark:border-zinc-700 dark:bg-zinc-900 ${type.accent}`}
      style={{ width: NODE_WIDTH, height: NODE_HEIGHT }}
    >
      <Handle type="target" position={Position.Top} isConnectable={false} className="!pointer-events-none !opacity-0" />
      <button
        type="button"
        data-frame-button=""
        aria-label={`${data.loopId} ${data.status}`}
        onClick={() => actions.select(id)}
        className="absolute inset-0 flex cursor-pointer flex-col justify-center gap-1 overflow-hidden rounded-lg py-1.5 pr-2 pl-3 text-left whitespace-nowrap"
      >
        <span className="flex w-full items-baseline gap-2">
          <span className={`text-[10px] font-semibold uppercase tracking-wide ${type.label}`}>{data.loopType}</span>
          <span className="min-w-0 flex-1 truncate text-sm font-medium text-zinc-900 dark:text-zinc-100">{data.loopId}</span>
        </span>
        <span className="flex w-full items-center gap-1 text-[11px] leading-4">
          <span className={`rounded px-1.5 font-medium ${STATUS_STYLE[data.status]} ${data.status === "running" ? "animate-pulse" : ""}`}>{data.status}</span>
          <span className="rounded bg-zinc-100 px-1.5 tabular-nums text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300">{formatDuration(data.durationMs)}</span>
          {data.tokens > 0 && (
            <span className="rounded bg-zinc-100 px-1.5 tabular-nums text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300">{formatTokens(data.tokens)}</span>
          )}
        </span>
        {data.errorCode ? (
          <span className="truncate font-mono text-[11px] leading-4 text-red-700 dark:text-red-300">{data.errorCode}</span>
        ) : (
          <span className="truncate text-[11px] leading-4 text-zinc-500">
            r{data.revision}
            {data.promptVersion !== null && ` · prompt v${data.promptVersion}`}
            {data.childCount > 0 && ` · ${data.childCount} ${data.childCount === 1 ? "call" : "calls"}`}
          </span>
        )}
      </button>
      {data.childCount > 0 && (
        <button
          type="button"
          aria-expanded={data.isExpanded}
          aria-label={data.isExpanded ? `Collapse ${data.loopId}` : `Expand ${data.hiddenCount} frames under ${data.loopId}`}
          onClick={() => actions.toggle(id)}
          className="absolute -bottom-3 left-1/2 z-10 min-w-7 -translate-x-1/2 cursor-pointer rounded-full border border-zinc-300 bg-white px-2 text-[11px] font-semibold leading-5 text-zinc-700 shadow-sm hover:bg-zinc-100 dark:border-zinc-600 dark:bg-zinc-800 dark:text-zinc-200 dark:hover:bg-zinc-700"
        >
          {data.isExpanded ? "−" : `+${data.hiddenCount}`}
        </button>
      )}
      <Handle type="source" position={Position.Bottom} isConnectable={false} className="!pointer-events-none !opacity-0" />
    </div>
  );
});

const nodeTypes: NodeTypes = { frame: FrameNodeView };

const minimapColor = (node: FrameNode) => STATUS_COLOR[node.data.status];

const KEY_DIRECTIONS: Record<string, Direction> = {
  ArrowUp: "parent",
  ArrowDown: "first-child",
  ArrowLeft: "previous-sibling",
  ArrowRight: "next-sibling",
};

function attributeValue(id: string): string {
  return id.replaceAll("\\", "\\\\").replaceAll('"', '\\"');
}

/** Selection and search hits are drawn by CSS on React Flow's `data-id`, so no node re-renders. */
function highlightCss(selectedId: string | null, matchIds: readonly string[]): string {
  const rules: string[] = [];
  if (matchIds.length > 0) {
    const selectors = matchIds.map((id) => `.react-flow__node[data-id="${attributeValue(id)}"] .trace-node`).join(",");
    rules.push(`${selectors}{box-shadow:0 0 0 3px #f59e0b;background-color:#fffbeb}`);
    rules.push(`@media (prefers-color-scheme: dark){${selectors}{background-color:#422006}}`);
  }
  if (selectedId) rules.push(`.react-flow__node[data-id="${attributeValue(selectedId)}"] .trace-node{box-shadow:0 0 0 3px #6366f1}`);
  return rules.join("\n");
}

export interface TraceGraphProps {
  graph: FlowGraph;
  selectedId: string | null;
  /** Search hits that are on screen. */
  matchIds: readonly string[];
  focusRequest: FocusRequest | null;
  /** The frame the view opens on (a deep link); the root otherwise. */
  initialFrameId: string | null;
  /** False while another tab covers the graph. */
  isActive: boolean;
  onSelect(id: string): void;
  onToggle(id: string): void;
  onNavigate(fromId: string, direction: Direction): void;
}

function Graph({ graph, selectedId, matchIds, focusRequest, initialFrameId, isActive, onSelect, onToggle, onNavigate }: TraceGraphProps) {
  const flow = useReactFlow();
  const containerRef = useRef<HTMLDivElement | null>(null);
  const [defaultViewport, setDefaultViewport] = useState<Viewport | null>(null);

  // The first viewport centres the root (or the linked frame) at zoom 1. Fitting the whole
  // tree instead would put every node in view, and so mount every node.
  const measure = useCallback(
    (element: HTMLDivElement | null) => {
      containerRef.current = element;
      if (!element || defaultViewport) return;
      const width = element.clientWidth || 960;
      const height = element.clientHeight || 600;
      const target = (initialFrameId && graph.positions.get(initialFrameId)) || graph.positions.values().next().value;
      const x = width / 2 - ((target?.x ?? 0) + NODE_WIDTH / 2);
      const y = initialFrameId && target ? height / 3 - target.y : 32 - (target?.y ?? 0);
      setDefaultViewport({ x, y, zoom: 1 });
    },
    // Measured once, when the container first appears.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [],
  );

  const callbacks = useRef({ onSelect, onToggle });
  useEffect(() => {
    callbacks.current = { onSelect, onToggle };
  });
  const actions = useMemo<GraphActions>(
    () => ({ select: (id) => callbacks.current.onSelect(id), toggle: (id) => callbacks.current.onToggle(id) }),
    [],
  );

  useEffect(() => {
    const container = containerRef.current;
    if (!focusRequest || !defaultViewport || !isActive || !container) return;
    const position = graph.positions.get(focusRequest.id);
    if (!position) return;
    let cancelled = false;
    // Centred from the container's own size: React Flow's stored size is stale right after
    // the graph tab is shown again.
    const zoom = flow.getZoom();
    const viewport = {
      x: container.clientWidth / 2 - (position.x + NODE_WIDTH / 2) * zoom,
      y: container.clientHeight / 2 - (position.y + NODE_HEIGHT / 2) * zoom,
      zoom,
    };
    void flow.setViewport(viewport, { duration: focusRequest.moveFocus ? 0 : 250 }).then(() => {
      if (cancelled || !focusRequest.moveFocus) return;
      // The node mounts once it is inside the viewport, one frame after the move.
      requestAnimationFrame(() => {
        const button = container.querySelector<HTMLButtonElement>(
          `.react-flow__node[data-id="${attributeValue(focusRequest.id)}"] [data-frame-button]`,
        );
        button?.focus({ preventScroll: true });
      });
    });
    return () => {
      cancelled = true;
    };
    // Only a new request (or the graph coming back into view) moves the view; re-layouts alone must not.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [focusRequest, defaultViewport, isActive]);

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const direction = KEY_DIRECTIONS[event.key];
    if (!direction || event.altKey || event.ctrlKey || event.metaKey) return;
    const node = (event.target as HTMLElement).closest<HTMLElement>(".react-flow__node");
    const fromId = node?.dataset.id ?? selectedId;
    if (!fromId) return;
    event.preventDefault();
    onNavigate(fromId, direction);
  };

  return (
    <div ref={measure} className="h-full w-full" onKeyDown={onKeyDown}>
      <style>{highlightCss(selectedId, matchIds)}</style>
      <GraphActionsContext.Provider value={actions}>
        {defaultViewport && (
          <ReactFlow<FrameNode>
            nodes={graph.nodes}
            edges={graph.edges}
            nodeTypes={nodeTypes}
            defaultViewport={defaultViewport}
            onlyRenderVisibleElements
            nodesDraggable={false}
            nodesConnectable={false}
            nodesFocusable={false}
            edgesFocusable={false}
            elementsSelectable={false}
            deleteKeyCode={null}
            selectionKeyCode={null}
            multiSelectionKeyCode={null}
            panActivationKeyCode={null}
            zoomActivationKeyCode={null}
            minZoom={0.05}
            maxZoom={2}
            colorMode="system"
            aria-label="Trace graph"
          >
            <Background gap={24} size={1} />
            <Controls showInteractive={false} fitViewOptions={{ padding: 0.1, duration: 200 }} />
            <MiniMap<FrameNode> nodeColor={minimapColor} pannable zoomable ariaLabel="Trace minimap" />
          </ReactFlow>
        )}
      </GraphActionsContext.Provider>
    </div>
  );
}

/** The Loop Stack Tree drawn with React Flow: rendering and dispatch only; see build-flow-graph. */
export function TraceGraph(props: TraceGraphProps) {
  return (
    <ReactFlowProvider>
      <Graph {...props} />
    </ReactFlowProvider>
  );
}
