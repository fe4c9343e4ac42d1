import type { TraceFrame } from "@/lib/runtime/types";

/**
 * Lookups over one trace, built once per trace in O(n) so that everything done per click
 * (layout, expand, keyboard moves) costs only what is on screen.
 */
export interface TraceIndex {
  root: TraceFrame;
  byId: ReadonlyMap<string, TraceFrame>;
  parentOf: ReadonlyMap<string, TraceFrame | null>;
  /** Every frame below a frame, at any depth. */
  descendantCount: ReadonlyMap<string, number>;
  /** Depth-first, parents before children: the order of the timeline and of search results. */
  order: readonly TraceFrame[];
}

export function indexTrace(root: TraceFrame): TraceIndex {
  const byId = new Map<string, TraceFrame>();
  const parentOf = new Map<string, TraceFrame | null>([[root.id, null]]);
  const order: TraceFrame[] = [];
  const stack: TraceFrame[] = [root];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    byId.set(frame.id, frame);
    order.push(frame);
    for (let i = frame.children.length - 1; i >= 0; i--) {
      const child = frame.children[i]!;
      parentOf.set(child.id, frame);
      stack.push(child);
    }
  }
  const descendantCount = new Map<string, number>();
  for (let i = order.length - 1; i >= 0; i--) {
    const frame = order[i]!;
    let count = 0;
    for (const child of frame.children) count += 1 + descendantCount.get(child.id)!;
    descendantCount.set(frame.id, count);
  }
  return { root, byId, parentOf, descendantCount, order };
}

/** The ids of a frame's ancestors, root first; empty for the root or an unknown id. */
export function ancestorsOf(index: TraceIndex, frameId: string): string[] {
  const path: string[] = [];
  let parent = index.parentOf.get(frameId);
  while (parent) {
    path.push(parent.id);
    parent = index.parentOf.get(parent.id);
  }
  return path.reverse();
}

/** The expansion with every ancestor of `frameId` opened, so that the frame is on screen. */
export function expandPathTo(index: TraceIndex, expanded: ReadonlySet<string>, frameId: string): ReadonlySet<string> {
  const path = ancestorsOf(index, frameId);
  if (path.every((id) => expanded.has(id))) return expanded;
  const next = new Set(expanded);
  for (const id of path) next.add(id);
  return next;
}

/** True when a frame is shown under the given expansion: all its ancestors are expanded. */
export function isVisible(index: TraceIndex, expanded: ReadonlySet<string>, frameId: string): boolean {
  if (!index.byId.has(frameId)) return false;
  return ancestorsOf(index, frameId).every((id) => expanded.has(id));
}

/**
 * Opens frames breadth-first, keeping those already open, for as long as the number of
 * frames on screen stays within `budget`. Frames in `keepClosed` (closed by the person) stay
 * closed. Starting from an empty set this is the first view of a trace; on a live run it
 * opens the frames that appeared since without closing anything. O(frames on screen).
 */
export function growExpansion(
  index: TraceIndex,
  expanded: ReadonlySet<string>,
  budget: number,
  keepClosed: ReadonlySet<string> = new Set(),
): ReadonlySet<string> {
  let visible = 0;
  const countStack: TraceFrame[] = [index.root];
  while (countStack.length > 0) {
    const frame = countStack.pop()!;
    visible++;
    if (expanded.has(frame.id)) for (const child of frame.children) countStack.push(child);
  }

  let next: Set<string> | null = null;
  const queue: TraceFrame[] = [index.root];
  for (let head = 0; head < queue.length; head++) {
    const frame = queue[head]!;
    if (frame.children.length === 0) continue;
    let isOpen = expanded.has(frame.id);
    if (!isOpen && !keepClosed.has(frame.id) && visible + frame.children.length <= budget) {
      next ??= new Set(expanded);
      next.add(frame.id);
      visible += frame.children.length;
      isOpen = true;
    }
    if (isOpen) for (const child of frame.children) queue.push(child);
  }
  return next ?? expanded;
}

export type Direction = "parent" | "first-child" | "previous-sibling" | "next-sibling";

/** The frame a keyboard move lands on, or null when there is none in that direction. */
export function neighbour(index: TraceIndex, frameId: string, direction: Direction): TraceFrame | null {
  const frame = index.byId.get(frameId);
  if (!frame) return null;
  const parent = index.parentOf.get(frameId) ?? null;
  switch (direction) {
    case "parent":
      return parent;
    case "first-child":
      return frame.children[0] ?? null;
    case "previous-sibling":
    case "next-sibling": {
      if (!parent) return null;
      const at = parent.children.findIndex((c) => c.id === frameId);
      return parent.children[at + (direction === "next-sibling" ? 1 : -1)] ?? null;
    }
  }
}
