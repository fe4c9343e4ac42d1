import { describe, expect, it } from "vitest";
import { blockDuration, DEFAULT_THROTTLE_SETTINGS, directoryName, throttleKeys } from "./throttle";

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

  it("keys every spelling the directory takes for one name alike, as RFC 4518 prepares it", () => {
    const bob = throttleKeys("bob", "10.0.0.1");
    // Fullwidth, mathematical bold, soft hyphen and zero width space: OpenLDAP signs each in as bob.
    for (const spelling of ["\uff42ob", "\uff22\uff4fb", "\uff42\uff4f\uff42", "\u{1d41b}\u{1d428}\u{1d41b}", "b\u00adob", "b\u200bob", "BOB", " bob\u3000"]) {
      expect(throttleKeys(spelling, "10.0.0.1")).toEqual(bob);
    }
    expect(directoryName("Stra\u00dfe")).toBe(directoryName("STRASSE"));
    expect(directoryName("\ufb01ona")).toBe("fiona");
    expect(directoryName("\u039f\u0394\u039f\u03a3")).toBe(directoryName("\u03bf\u03b4\u03bf\u03c3"));
    expect(directoryName("jo  \u00a0 smith")).toBe("jo smith");
    expect(directoryName("alice")).not.toBe(directoryName("alicia"));
  });

  it("has no address key when the address is unknown", () => {
    expect(throttleKeys("alice", null).address).toBeNull();
    expect(throttleKeys("alice", "  ").address).toBeNull();
  });
});
