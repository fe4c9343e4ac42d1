import { describe, expect, it } from "vitest";
import { parseLoopDefinition } from "../runtime/definition";
import type { FrameState } from "./state";
import { stepSignal } from "./steps";

describe("a step's signal", () => {
  it("sets no timer for a run deadline further off than a timer can wait, instead of one that fires at once", async () => {
    const now = new Date("2030-01-01T00:00:00Z");
    const definition = parseLoopDefinition({ id: "far", type: "http", realm: "r", http: { url: "http://127.0.0.1:9/x" } });
    const frame = (deadlineAt: Date) => ({ loopId: "far", startedAt: now, run: { deadlineAt } }) as unknown as FrameState;
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on("warning", onWarning);
    try {
      const far = stepSignal({ clock: { now: () => now } }, new AbortController().signal, frame(new Date(now.getTime() + 3_000_000_000)), definition);
      const near = stepSignal({ clock: { now: () => now } }, new AbortController().signal, frame(new Date(now.getTime() - 1)), definition);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(far.signal.aborted).toBe(false);
      expect(near.signal.aborted).toBe(true);
      expect((near.signal.reason as { code?: string }).code).toBe("run_timeout");
      far.dispose();
      near.dispose();
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings).not.toContain("TimeoutOverflowWarning");
  });
});
