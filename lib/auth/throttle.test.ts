import { describe, expect, it } from "vitest";
import { blockDuration, DEFAULT_THROTTLE_SETTINGS, throttleKeys } from "./throttle";

describe("blockDuration", () => {
  const settings = { ...DEFAULT_THROTTLE_SETTINGS, baseBlockSeconds: 30, maxBlockSeconds: 600 };

  it("does not block below the limit, then doubles up to the maximum", () => {
    expect(blockDuration(4, 5, settings)).toBeNull();
    expect([5, 6, 7, 8, 9, 10, 1000].map((n) => blockDuration(n, 5, settings))).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000]);
  });
});

describe("throttleKeys", () => {
  it("treats case and Unicode form as the same name", () => {
    expect(throttleKeys("Jürgen", "10.0.0.1")).toEqual(throttleKeys("ju\u0308rgen", "10.0.0.1"));
    expect(throttleKeys("ALICE", " 2001:DB8::1 ")).toEqual({ username: "user:alice", address: "addr:2001:db8::1" });
  });

  it("has no address key when the address is unknown", () => {
    expect(throttleKeys("alice", null).address).toBeNull();
    expect(throttleKeys("alice", "  ").address).toBeNull();
  });
});
