import { describe, expect, it } from "vitest";
import { isAppError } from "../errors";
import { checkRunTimeout, MAX_INPUT_DEPTH, MAX_RUN_TIMEOUT_MS, nestsDeeperThan, refuseDeepInput } from "./run-input";

function nested(depth: number): unknown {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { a: value } : [value];
  return value;
}

describe("nestsDeeperThan", () => {
  it("counts objects and arrays, not scalars", () => {
    expect(nestsDeeperThan("text", 0)).toBe(false);
    expect(nestsDeeperThan({}, 0)).toBe(true);
    expect(nestsDeeperThan({ a: 1, b: [2, 3] }, 2)).toBe(false);
    expect(nestsDeeperThan({ a: 1, b: [2, { c: 3 }] }, 2)).toBe(true);
    expect(nestsDeeperThan(nested(10), 10)).toBe(false);
    expect(nestsDeeperThan(nested(11), 10)).toBe(true);
  });

  it("answers for values too deep for a recursive walk, and for a value that refers to itself", () => {
    expect(nestsDeeperThan(nested(200_000), 100)).toBe(true);
    const cycle: Record<string, unknown> = { name: "loop" };
    cycle.self = cycle;
    expect(nestsDeeperThan(cycle, 100)).toBe(true);
  });

  it("walks an object shared by many parents once per depth, not once per path", () => {
    // 2^60 paths, 61 objects: a walk along every path would never end.
    let shared: unknown = { leaf: true };
    for (let i = 0; i < 60; i++) shared = { left: shared, right: shared };
    expect(nestsDeeperThan(shared, 100)).toBe(false);
    expect(nestsDeeperThan(shared, 60)).toBe(true);
  });
});

describe("refuseDeepInput", () => {
  it("refuses run input deeper than the limit with invalid_input, and lets the limit itself through", () => {
    expect(() => refuseDeepInput(nested(MAX_INPUT_DEPTH))).not.toThrow();
    let error: unknown;
    try {
      refuseDeepInput(nested(MAX_INPUT_DEPTH + 1));
    } catch (caught) {
      error = caught;
    }
    expect(isAppError(error, "invalid_input")).toBe(true);
    expect((error as Error).message).toBe(`Run input nests objects and arrays more than ${MAX_INPUT_DEPTH} levels deep`);
  });
});

describe("checkRunTimeout", () => {
  const code = (timeoutMs: number | undefined) => {
    try {
      checkRunTimeout(timeoutMs);
      return "ok";
    } catch (error) {
      return isAppError(error) ? error.code : "thrown";
    }
  };

  it("accepts no deadline, or whole milliseconds from 1 to the longest a timer can wait", () => {
    expect([undefined, 1, 30_000, MAX_RUN_TIMEOUT_MS].map(code)).toEqual(["ok", "ok", "ok", "ok"]);
  });

  it("refuses as invalid input what would run with no deadline or overflow the timer", () => {
    expect([0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, MAX_RUN_TIMEOUT_MS + 1, 3_000_000_000, 1e20].map(code)).toEqual(Array(8).fill("invalid_input"));
  });
});
