import { hierarchy, tree } from "d3-hierarchy";
import { Position, type Edge, type Node } from "@xyflow/react";
import type { FrameStatus, TraceFrame } from "@/lib/runtime/types";
import type { TraceIndex } from "./trace-index";

export const NODE_WIDTH = 232;
export const NODE_HEIGHT = 76;
const GAP_X = 20;
const GAP_Y = 56;
const HANDLE_SIZE = 8;

/** What a node shows. Only display fields, so an unchanged frame keeps its node object. */
export interface FrameNodeData extends Record<string, unknown> {
  loopId: string;
  loopType: TraceFrame["loop"]["type"];
  revision: number;
  status: FrameStatus;
  promptVersion: number | null;
  durationMs: number | null;
  tokens: number;
  errorCode: string | null;
  childCount: number;
  /** Frames inside a collapsed subtree; 0 when the frame is expanded or a leaf. */
  hiddenCount: number;
  isExpanded: boolean;
  isRoot: boolean;
}

export type FrameNode = Node<FrameNodeData, "frame">;

export interface FlowGraph {
  nodes: FrameNode[];
  edges: Edge[];
  /** Top-left corner of every node on screen, by frame id. */
  positions: ReadonlyMap<string, { x: number; y: number }>;
}

// React Flow reads handle positions from here instead of measuring the DOM, which is what
// lets it skip nodes outside the viewport entirely.
const HANDLES: NonNullable<Node["handles"]> = [
  { type: "target", position: Position.Top, x: NODE_WIDTH / 2 - HANDLE_SIZE / 2, y: 0, width: HANDLE_SIZE, height: HANDLE_SIZE },
  {
    type: "source",
    position: Position.Bottom,
    x: NODE_WIDTH / 2 - HANDLE_SIZE / 2,
    y: NODE_HEIGHT - HANDLE_SIZE,
    width: HANDLE_SIZE,
    height: HANDLE_SIZE,
  },
];

const layout = tree<TraceFrame>()
  .nodeSize([NODE_WIDTH + GAP_X, NODE_HEIGHT + GAP_Y])
  // Siblings sit one slot apart; cousins get a little more air to show where families split.
  .separation((a, b) => (a.parent === b.parent ? 1 : 1.25));

function nodeData(frame: TraceFrame, isExpanded: boolean, hiddenCount: number, isRoot: boolean): FrameNodeData {
  return {
    loopId: frame.loop.id,
    loopType: frame.loop.type,
    revision: frame.loop.revision,
    status: frame.status,
    promptVersion: frame.prompt?.version ?? null,
    durationMs: frame.durationMs,
    tokens: frame.usage.inputTokens + frame.usage.outputTokens,
    errorCode: frame.error?.code ?? null,
    childCount: frame.children.length,
    hiddenCount,
    isExpanded,
    isRoot,
  };
}

function sameData(a: FrameNodeData, b: FrameNodeData): boolean {
  for (const key of Object.keys(a) as (keyof FrameNodeData)[]) if (a[key] !== b[key]) return false;
  return true;
}

/**
 * The React Flow nodes and edges of the part of a trace that is on screen: the root, and the
 * children of every expanded frame that is itself on screen. Laid out top-down as a tidy tree
 * (d3-hierarchy, O(nodes on screen)); every node carries its size and handles so that React
 * Flow never has to measure before painting. With `previous`, nodes and edges that did not
 * change keep their identity, so a live update re-renders only the frames that moved on.
 */
export function buildFlowGraph(index: TraceIndex, expanded: ReadonlySet<string>, previous?: FlowGraph): FlowGraph {
  const root = hierarchy(index.root, (frame) => (expanded.has(frame.id) && frame.children.length > 0 ? frame.children : null));
  const laidOut = layout(root);

  const previousNodes = new Map<string, FrameNode>();
  if (previous) for (const node of previous.nodes) previousNodes.set(node.id, node);
  const previousEdges = new Map<string, Edge>();
  if (previous) for (const edge of previous.edges) previousEdges.set(edge.id, edge);

  const nodes: FrameNode[] = [];
  const edges: Edge[] = [];
  const positions = new Map<string, { x: number; y: number }>();
  laidOut.each((point) => {
    const frame = point.data;
    const isExpanded = point.children !== undefined;
    const data = nodeData(frame, isExpanded, isExpanded ? 0 : index.descendantCount.get(frame.id)!, point.parent === null);
    const position = { x: point.x - NODE_WIDTH / 2, y: point.y };
    positions.set(frame.id, position);

    const before = previousNodes.get(frame.id);
    if (before && before.position.x === position.x && before.position.y === position.y && sameData(before.data, data)) {
      nodes.push(before);
    } else {
      nodes.push({
        id: frame.id,
        type: "frame",
        position,
        data,
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
        handles: HANDLES,
        draggable: false,
        connectable: false,
        selectable: false,
        focusable: false,
      });
    }

    if (point.parent) {
      const id = `${point.parent.data.id}->${frame.id}`;
      edges.push(
        previousEdges.get(id) ?? {
          id,
          source: point.parent.data.id,
          target: frame.id,
          type: "smoothstep",
          selectable: false,
          focusable: false,
          // The tree is announced through its nodes; an edge adds nothing a reader can use.
          domAttributes: { "aria-hidden": true },
        },
      );
    }
  });
  return { nodes, edges, positions };
}
