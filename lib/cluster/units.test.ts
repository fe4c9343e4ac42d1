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
    // 60 a minute here: once a minute has filled the bucket, a burst of 60, then one a second.
    now += 60_000;
    const granted = Array.from({ length: 100 }, () => limiter.take("claude-x", 0)).filter((wait) => wait === 0).length;
    expect(granted).toBe(60);
    const wait = limiter.take("claude-x", 0);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(1_000);
    now += wait;
    expect(limiter.take("claude-x")).toBe(0);
    expect(limiter.take("claude-x", 0)).toBeGreaterThan(0);
    expect(limiter.take("other-model")).toBe(0);
  });

  it("gives each caller that waits a slot of its own, and reserves none for a caller that will not wait", () => {
    let now = 0;
    const limiter = createModelRateLimiter({ modelRequestsPerMinute: { m: 10 } }, () => now);
    now = 60_000;
    expect(Array.from({ length: 10 }, () => limiter.take("m"))).toEqual(Array(10).fill(0));
    // One token every 6 s; 0.5 s before the next one, 20 callers at once.
    now += 5_500;
    const waits = Array.from({ length: 20 }, () => limiter.take("m", 1_000));
    expect(waits.filter((w) => w <= 1_000)).toEqual([500]);
    // Those that would wait longer took nothing: the slots after that one are still free, one each.
    expect([limiter.take("m"), limiter.take("m"), limiter.take("m")]).toEqual([6_500, 12_500, 18_500]);
  });

  it("keeps a cluster of workers starting together within the rate: each bucket starts empty", () => {
    let now = 0;
    const workers = Array.from({ length: 3 }, () => createModelRateLimiter({ modelRequestsPerMinute: { m: 10 } }, () => now));
    const sent: number[] = [];
    // Every 100 ms each worker has a request to make; it sleeps through a wait of up to 1 s, else tries later.
    for (; now < 120_000; now += 100) {
      // Until their first heartbeat (2 s) each worker believes it is alone.
      if (now === 2_000) for (const w of workers) w.setLiveWorkers(3);
      for (const w of workers) {
        const wait = w.take("m", 1_000);
        if (wait <= 1_000) sent.push(now + wait);
      }
    }
    const inWindow = (from: number) => sent.filter((t) => t >= from && t < from + 60_000).length;
    // Each worker sends one request every 18 s, so a minute holds 3 or 4 of each worker's: at most 12, never a burst.
    for (let from = 0; from <= 60_000; from += 500) expect(inWindow(from)).toBeLessThanOrEqual(12);
    expect(sent.filter((t) => t < 120_000).length).toBeLessThanOrEqual(21);
    expect(inWindow(0)).toBeGreaterThan(5);
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
