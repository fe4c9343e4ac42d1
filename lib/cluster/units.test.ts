import { describe, expect, it } from "vitest";
import { childFrameId, derivedId } from "./ids";
import { createModelRateLimiter } from "./limits";
import { stepJobSchema } from "./queue";

describe("derived ids", () => {
  it("are RFC 4122 version 5 UUIDs, the same for the same parts and different otherwise", () => {
    const id = childFrameId("0b5e6a8e-3d0f-4a59-9e47-0c2d1c1f6a11", "toolu_01");
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(childFrameId("0b5e6a8e-3d0f-4a59-9e47-0c2d1c1f6a11", "toolu_01")).toBe(id);
    expect(childFrameId("0b5e6a8e-3d0f-4a59-9e47-0c2d1c1f6a11", "toolu_02")).not.toBe(id);
    expect(derivedId("a", "b/c")).toBe(derivedId("a/b", "c"));
  });
});

describe("model rate limiter", () => {
  it("gives each live worker an equal share of the cluster's rate", () => {
    let now = 0;
    const limiter = createModelRateLimiter({ modelRequestsPerMinute: { "claude-x": 120 } }, () => now);
    limiter.setLiveWorkers(2);
    // 60 a minute here: a burst of 60, then one a second.
    const granted = Array.from({ length: 100 }, () => limiter.take("claude-x")).filter((wait) => wait === 0).length;
    expect(granted).toBe(60);
    const wait = limiter.take("claude-x");
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(1_000);
    now += wait;
    expect(limiter.take("claude-x")).toBe(0);
    expect(limiter.take("claude-x")).toBeGreaterThan(0);
    expect(limiter.take("other-model")).toBe(0);
  });
});

describe("step payloads", () => {
  it("are validated when read back from the queue", () => {
    const frameId = "0b5e6a8e-3d0f-4a59-9e47-0c2d1c1f6a11";
    expect(stepJobSchema.parse({ v: 1, kind: "frame", runId: frameId, frameId })).toMatchObject({ deferrals: 0 });
    expect(stepJobSchema.safeParse({ v: 1, kind: "tool", runId: frameId, frameId }).success).toBe(false);
    expect(stepJobSchema.safeParse({ v: 2, kind: "frame", runId: frameId, frameId }).success).toBe(false);
    expect(stepJobSchema.safeParse({ v: 1, kind: "frame", runId: "x", frameId, extra: 1 }).success).toBe(false);
  });
});
