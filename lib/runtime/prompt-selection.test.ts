import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { chooseRolloutArm, parseStickyBy, rolloutBucket, selectPrompt, stickyKey } from "./prompt-selection";
import type { PromptVersion } from "./types";

function version(n: number): PromptVersion {
  return { loopId: "triage", version: n, systemPrompt: `v${n}`, params: {}, author: "a", message: "", createdAt: "2026-01-01T00:00:00.000Z" };
}

const ROLLOUT_ID = "5f0c3a52-4a55-4d4e-9e1c-2b8c9f0a1d33";

describe("rolloutBucket", () => {
  it("is the first four bytes of SHA-256(rolloutId:key), mod 10,000", () => {
    const expected = createHash("sha256").update(`${ROLLOUT_ID}:alice`).digest().readUInt32BE(0) % 10_000;
    expect(rolloutBucket(ROLLOUT_ID, "alice")).toBe(expected);
  });

  it("gives the same key a different bucket in another rollout", () => {
    const keys = Array.from({ length: 50 }, (_, i) => `caller-${i}`);
    const a = keys.map((k) => rolloutBucket(ROLLOUT_ID, k));
    const b = keys.map((k) => rolloutBucket("another-rollout", k));
    expect(a).not.toEqual(b);
  });
});

describe("stickyKey", () => {
  it("uses the caller by default and for unknown rules", () => {
    expect(stickyKey("caller", { subject: "alice", input: { user: "u1" } })).toBe("alice");
    expect(stickyKey("something-else", { subject: "alice", input: {} })).toBe("alice");
  });

  it("uses the value at an input path, and the caller when it is missing", () => {
    expect(stickyKey("input:patient.id", { subject: "alice", input: { patient: { id: "p-7" } } })).toBe("p-7");
    expect(stickyKey("input:patient.id", { subject: "alice", input: { patient: { id: 42 } } })).toBe("42");
    expect(stickyKey("input:patient.id", { subject: "alice", input: { patient: {} } })).toBe("alice");
    expect(stickyKey("input:patient.id", { subject: "alice", input: { patient: { id: null } } })).toBe("alice");
    expect(stickyKey("input:items[0]", { subject: "alice", input: "plain text" })).toBe("alice");
  });

  it("parses only `caller` and well-formed input paths", () => {
    expect(parseStickyBy("caller")).toEqual({ kind: "caller" });
    expect(parseStickyBy("input:a.b[0]")).toEqual({ kind: "input", path: "a.b[0]" });
    expect(parseStickyBy("input:")).toBeNull();
    expect(parseStickyBy("input:__proto__.x")).toBeNull();
    expect(parseStickyBy("user")).toBeNull();
  });
});

describe("chooseRolloutArm and selectPrompt", () => {
  it("sends about the chosen share of distinct callers to the candidate", () => {
    const rollout = { id: ROLLOUT_ID, percent: 30, stickyBy: "caller" };
    let candidate = 0;
    for (let i = 0; i < 10_000; i++) {
      if (chooseRolloutArm(rollout, { subject: `caller-${i}`, input: {} }).arm === "candidate") candidate++;
    }
    // Binomial(10,000, 0.3): the standard deviation is 46, so ±2 % is over four of them.
    expect(candidate / 10_000).toBeGreaterThan(0.28);
    expect(candidate / 10_000).toBeLessThan(0.32);
  });

  it("puts the same caller on the same arm every time", () => {
    const rollout = { id: ROLLOUT_ID, percent: 50, stickyBy: "caller" };
    for (let i = 0; i < 100; i++) {
      const first = chooseRolloutArm(rollout, { subject: `caller-${i}`, input: { n: 1 } });
      const again = chooseRolloutArm(rollout, { subject: `caller-${i}`, input: { n: 2 } });
      expect(again).toEqual(first);
    }
  });

  it("sends a bucket below percent × 100 to the candidate", () => {
    const key = "alice";
    const bucket = rolloutBucket(ROLLOUT_ID, key);
    expect(chooseRolloutArm({ id: ROLLOUT_ID, percent: (bucket + 1) / 100, stickyBy: "caller" }, { subject: key, input: {} })).toEqual({ bucket, arm: "candidate" });
    expect(chooseRolloutArm({ id: ROLLOUT_ID, percent: bucket / 100, stickyBy: "caller" }, { subject: key, input: {} })).toEqual({ bucket, arm: "active" });
  });

  it("returns the active version without a rollout, and says why", () => {
    expect(selectPrompt({ active: version(3), rollout: null }, { subject: "alice", input: {} })).toEqual({ prompt: version(3), choice: { reason: "active" } });
  });

  it("returns the candidate or the active version with the rollout, bucket and arm", () => {
    const everyone = selectPrompt({ active: version(3), rollout: { id: ROLLOUT_ID, percent: 100, stickyBy: "caller", candidate: version(4) } }, { subject: "bob", input: {} });
    expect(everyone.prompt.version).toBe(4);
    expect(everyone.choice).toEqual({ reason: "rollout", rolloutId: ROLLOUT_ID, bucket: rolloutBucket(ROLLOUT_ID, "bob"), arm: "candidate" });
    const nobody = selectPrompt({ active: version(3), rollout: { id: ROLLOUT_ID, percent: 0, stickyBy: "caller", candidate: version(4) } }, { subject: "bob", input: {} });
    expect(nobody.prompt.version).toBe(3);
    expect(nobody.choice).toMatchObject({ reason: "rollout", arm: "active" });
  });

  it("sticks on an input key across callers", () => {
    const rollout = { id: ROLLOUT_ID, percent: 50, stickyBy: "input:tenant" };
    const arms = new Set(["alice", "bob", "carol", "dan"].map((subject) => chooseRolloutArm(rollout, { subject, input: { tenant: "acme" } }).arm));
    expect(arms.size).toBe(1);
  });
});
