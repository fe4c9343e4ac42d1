import type { TraceFrame } from "@/lib/runtime/types";

/** A frame for unit tests: only what the test cares about is given. */
export function frame(id: string, children: TraceFrame[] = [], overrides: Partial<TraceFrame> = {}): TraceFrame {
  const base: TraceFrame = {
    id,
    runId: "run-1",
    parentFrameId: null,
    parentToolCallId: null,
    depth: 0,
    loop: { id: `loop-${id}`, revision: 1, type: "llm", realm: "alpha" },
    prompt: null,
    status: "succeeded",
    attempts: [],
    input: null,
    output: null,
    error: null,
    model: null,
    usage: { inputTokens: 0, outputTokens: 0 },
    turns: 0,
    toolCalls: [],
    identity: { subject: "alice", groups: [], kind: "user", source: "dev-directory" },
    authorization: { allowed: true, action: "invoke", realm: "alpha", role: "operator", via: "g", reason: "ok", checkedAt: "2026-01-01T00:00:00.000Z" },
    createdAt: "2026-01-01T00:00:00.000Z",
    startedAt: "2026-01-01T00:00:00.000Z",
    endedAt: "2026-01-01T00:00:01.000Z",
    durationMs: 1000,
    children,
    ...overrides,
  };
  const fixDepth = (parent: TraceFrame) => {
    for (const child of parent.children) {
      child.depth = parent.depth + 1;
      child.parentFrameId = parent.id;
      fixDepth(child);
    }
  };
  fixDepth(base);
  return base;
}
