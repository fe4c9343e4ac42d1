import type { TraceFrame, TraceToolCall } from "@/lib/runtime/types";

/**
 * The trace view's model: the Loop Stack Tree flattened into the rows a tree list shows,
 * honouring which frames are expanded. Pure and O(visible rows), so the list (and a graph
 * view beside it) only ever renders what is open.
 *
 * Under an expanded frame come its tool calls in the order the model made them: a call that
 * spawned a child frame appears as that child frame (`via` names the call); a call without a
 * visible child (an MCP tool, an unknown tool, a child in a realm the viewer cannot see)
 * appears as a tool-call row.
 */
export interface FrameRow {
  kind: "frame";
  key: string;
  frame: TraceFrame;
  /** 1-based, as `aria-level` wants it. */
  level: number;
  parentId: string | null;
  via: TraceToolCall | null;
  hasChildren: boolean;
  isExpanded: boolean;
  posInSet: number;
  setSize: number;
}

export interface ToolCallRow {
  kind: "tool-call";
  key: string;
  call: TraceToolCall;
  /** The frame that made the call. */
  parentId: string;
  level: number;
  posInSet: number;
  setSize: number;
}

export type TraceRow = FrameRow | ToolCallRow;

type Item = { kind: "frame"; frame: TraceFrame; via: TraceToolCall | null } | { kind: "tool-call"; call: TraceToolCall };

/** What appears under a frame when it is expanded. */
export function frameItems(frame: TraceFrame): Item[] {
  const children = new Map(frame.children.map((child) => [child.id, child]));
  const items: Item[] = [];
  for (const call of frame.toolCalls) {
    const child = (call.childFrameId && children.get(call.childFrameId)) || frame.children.find((c) => c.parentToolCallId === call.id);
    if (child) {
      items.push({ kind: "frame", frame: child, via: call });
      children.delete(child.id);
    } else {
      items.push({ kind: "tool-call", call });
    }
  }
  // A child whose tool call is not recorded yet (the call row is written after the frame starts).
  for (const child of children.values()) items.push({ kind: "frame", frame: child, via: null });
  return items;
}

export function buildTraceRows(root: TraceFrame | null, expanded: ReadonlySet<string>): TraceRow[] {
  if (!root) return [];
  const rows: TraceRow[] = [];
  const visit = (frame: TraceFrame, via: TraceToolCall | null, level: number, parentId: string | null, posInSet: number, setSize: number) => {
    const items = frameItems(frame);
    const isExpanded = items.length > 0 && expanded.has(frame.id);
    rows.push({ kind: "frame", key: frame.id, frame, level, parentId, via, hasChildren: items.length > 0, isExpanded, posInSet, setSize });
    if (!isExpanded) return;
    items.forEach((item, i) => {
      if (item.kind === "frame") visit(item.frame, item.via, level + 1, frame.id, i + 1, items.length);
      else rows.push({ kind: "tool-call", key: `${frame.id}:${item.call.id}`, call: item.call, parentId: frame.id, level: level + 1, posInSet: i + 1, setSize: items.length });
    });
  };
  visit(root, null, 1, null, 1, 1);
  return rows;
}

/**
 * Which frames start expanded: breadth-first from the root while the visible rows stay within
 * `budget`, so a small trace opens fully and a 10,000-frame one opens at its top levels.
 */
export function defaultExpanded(root: TraceFrame | null, budget = 200): Set<string> {
  const expanded = new Set<string>();
  if (!root) return expanded;
  let visible = 1;
  const queue: TraceFrame[] = [root];
  for (let head = 0; head < queue.length; head++) {
    const frame = queue[head]!;
    const items = frameItems(frame);
    if (items.length === 0) continue;
    if (visible + items.length > budget) break;
    expanded.add(frame.id);
    visible += items.length;
    for (const item of items) if (item.kind === "frame") queue.push(item.frame);
  }
  return expanded;
}

/** Every frame by id. */
export function indexFrames(root: TraceFrame | null): Map<string, TraceFrame> {
  const index = new Map<string, TraceFrame>();
  if (!root) return index;
  const stack = [root];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    index.set(frame.id, frame);
    for (const child of frame.children) stack.push(child);
  }
  return index;
}

/** The ids of a frame's ancestors, root first: what must be expanded to show it. */
export function ancestorIds(index: ReadonlyMap<string, TraceFrame>, frameId: string): string[] {
  const path: string[] = [];
  let current = index.get(frameId)?.parentFrameId ?? null;
  while (current && index.has(current) && !path.includes(current)) {
    path.unshift(current);
    current = index.get(current)!.parentFrameId;
  }
  return path;
}

/** The accessible name of a frame: its loop id and status, e.g. "demo-echo succeeded". */
export function frameLabel(frame: TraceFrame): string {
  return `${frame.loop.id} ${frame.status}`;
}
