import type { FrameRow, ToolCallRow } from "./store";
import type { TraceFrame, TraceToolCall } from "./types";

type TraceToolCallRow = Omit<ToolCallRow, "frameId" | "runId" | "position">;

/** A frame's row and its tool calls (in turn and position order) as a node of the Loop Stack Tree. */
export function traceFrameFromRow(row: FrameRow, calls: TraceToolCallRow[]): TraceFrame {
  const choice = row.promptChoice as { reason?: string; rolloutId?: string } | null;
  return {
    id: row.id,
    runId: row.runId,
    parentFrameId: row.parentFrameId,
    parentToolCallId: row.parentToolCallId,
    depth: row.depth,
    loop: { id: row.loopId, revision: row.loopRevision, type: row.loopType as TraceFrame["loop"]["type"], realm: row.realmId },
    prompt:
      row.promptVersion === null
        ? null
        : { version: row.promptVersion, reason: choice?.reason ?? "active", ...(choice?.rolloutId ? { rolloutId: choice.rolloutId } : {}) },
    status: row.status,
    attempts: row.attempts ?? [],
    input: row.input ?? null,
    output: row.output ?? null,
    error: row.error ?? null,
    model: row.model,
    usage: { inputTokens: row.inputTokens ?? 0, outputTokens: row.outputTokens ?? 0 },
    turns: row.turns ?? 0,
    toolCalls: calls.map(
      (c): TraceToolCall => ({
        id: c.id,
        turn: c.turn,
        name: c.name,
        kind: c.kind,
        input: c.input ?? null,
        output: c.output ?? null,
        isError: c.isError ?? false,
        childFrameId: c.childFrameId,
        startedAt: c.startedAt.toISOString(),
        endedAt: c.endedAt?.toISOString() ?? null,
        durationMs: c.durationMs ?? null,
      }),
    ),
    identity: row.identity,
    authorization: row.authorization,
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    endedAt: row.endedAt?.toISOString() ?? null,
    durationMs: row.durationMs ?? null,
    children: [],
  };
}

/**
 * Nests flat frames (ordered by creation) into the Loop Stack Tree. O(n): one pass to index,
 * one pass to attach. Returns the root, or null for an empty list.
 */
export function buildTraceTree(frames: TraceFrame[]): TraceFrame | null {
  const byId = new Map<string, TraceFrame>();
  for (const frame of frames) byId.set(frame.id, { ...frame, children: [] });
  let root: TraceFrame | null = null;
  for (const frame of byId.values()) {
    const parent = frame.parentFrameId ? byId.get(frame.parentFrameId) : undefined;
    if (parent) parent.children.push(frame);
    else if (!root || frame.depth < root.depth) root = frame;
  }
  return root;
}

/** Depth-first walk, parents before children. */
export function* walkTrace(root: TraceFrame): Generator<TraceFrame> {
  const stack: TraceFrame[] = [root];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    yield frame;
    for (let i = frame.children.length - 1; i >= 0; i--) stack.push(frame.children[i]!);
  }
}

/** A compact, indented text rendering of a trace for terminals and logs. */
export function formatTraceTree(root: TraceFrame): string {
  const lines: string[] = [];
  const visit = (frame: TraceFrame, prefix: string, isLast: boolean, isRoot: boolean) => {
    const branch = isRoot ? "" : isLast ? "└─ " : "├─ ";
    const prompt = frame.prompt ? ` prompt v${frame.prompt.version}` : "";
    const duration = frame.durationMs !== null ? ` ${Math.round(frame.durationMs)}ms` : "";
    const tokens = frame.usage.inputTokens + frame.usage.outputTokens > 0 ? ` ${frame.usage.inputTokens}→${frame.usage.outputTokens} tok` : "";
    const error = frame.error ? ` — ${frame.error.code}: ${frame.error.message.slice(0, 120)}` : "";
    lines.push(`${prefix}${branch}${frame.loop.id} [${frame.loop.type} r${frame.loop.revision}] ${frame.status}${prompt}${duration}${tokens}${error}`);
    const childPrefix = isRoot ? "" : prefix + (isLast ? "   " : "│  ");
    frame.children.forEach((child, i) => visit(child, childPrefix, i === frame.children.length - 1, false));
  };
  visit(root, "", true, true);
  return lines.join("\n");
}
