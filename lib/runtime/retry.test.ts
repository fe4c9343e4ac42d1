import { describe, expect, it } from "vitest";
import { backoffDelay, DispatchError, isRetryableStatus, retryAfterMs, withRetry } from "./retry";
import type { Attempt } from "./types";

const policy = { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2 };
const clock = { now: () => new Date() };

describe("backoffDelay", () => {
  it("grows exponentially within [base/2, base] and is capped", () => {
    expect(backoffDelay(policy, 1, () => 0)).toBe(50);
    expect(backoffDelay(policy, 1, () => 1)).toBe(100);
    expect(backoffDelay(policy, 3, () => 1)).toBe(400);
    expect(backoffDelay(policy, 10, () => 1)).toBe(1_000);
    expect(backoffDelay(policy, 10, () => 0)).toBe(500);
  });

  it("spreads concurrent retries (jitter)", () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(policy, 2)));
    expect(delays.size).toBeGreaterThan(10);
  });
});

describe("retryAfterMs", () => {
  const headers = (values: Record<string, string>) => (name: string) => values[name] ?? null;
  it("reads delay-seconds, an HTTP date and retry-after-ms, and ignores what it cannot read", () => {
    const now = Date.parse("2026-12-07T10:00:00Z");
    expect(retryAfterMs(headers({ "retry-after": "7" }), now)).toBe(7_000);
    expect(retryAfterMs(headers({ "retry-after": "Mon, 07 Dec 2026 10:00:03 GMT" }), now)).toBe(3_000);
    expect(retryAfterMs(headers({ "retry-after": "Mon, 07 Dec 2026 09:00:00 GMT" }), now)).toBe(0);
    expect(retryAfterMs(headers({ "retry-after-ms": "250.5", "retry-after": "9" }), now)).toBe(251);
    expect(retryAfterMs(headers({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(retryAfterMs(headers({ "retry-after": "-3" }), now)).toBeUndefined();
    expect(retryAfterMs(headers({}), now)).toBeUndefined();
  });
});

describe("isRetryableStatus", () => {
  it("retries rate limits, overload and server errors only", () => {
    expect([429, 500, 502, 503, 529, 408].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 422].some(isRetryableStatus)).toBe(false);
  });
});

describe("withRetry", () => {
  const fast = { ...policy, initialDelayMs: 1, maxDelayMs: 2 };

  it("records every attempt and stops at the first success", async () => {
    const attempts: Attempt[] = [];
    let calls = 0;
    const result = await withRetry(
      async () => {
        if (++calls < 3) throw new DispatchError("rate_limited", "slow down", { retryable: true, status: 429 });
        return "ok";
      },
      { policy: fast, signal: new AbortController().signal, clock, onAttempt: (a) => attempts.push(a), turn: 2 },
    );
    expect(result).toBe("ok");
    expect(attempts.map((a) => [a.attempt, a.ok, a.turn, a.error?.code])).toEqual([
      [1, false, 2, "rate_limited"],
      [2, false, 2, "rate_limited"],
      [3, true, 2, undefined],
    ]);
    expect(attempts[0]!.delayMs).toBeGreaterThanOrEqual(0);
  });

  it("does not retry a non-retryable error", async () => {
    const attempts: Attempt[] = [];
    const error = await withRetry(
      async () => {
        throw new DispatchError("model_bad_request", "bad", { status: 400 });
      },
      { policy: fast, signal: new AbortController().signal, clock, onAttempt: (a) => attempts.push(a) },
    ).catch((e: unknown) => e);
    expect((error as DispatchError).code).toBe("model_bad_request");
    expect(attempts).toHaveLength(1);
  });

  it("gives up after maxAttempts", async () => {
    const attempts: Attempt[] = [];
    await expect(
      withRetry(
        async () => {
          throw new DispatchError("overloaded", "busy", { retryable: true, status: 529 });
        },
        { policy: fast, signal: new AbortController().signal, clock, onAttempt: (a) => attempts.push(a) },
      ),
    ).rejects.toThrow("busy");
    expect(attempts).toHaveLength(4);
    expect(attempts.at(-1)!.delayMs).toBeUndefined();
  });

  it("waits as long as the server's Retry-After asks when that is longer than the backoff, up to maxDelayMs", async () => {
    const attempts: Attempt[] = [];
    let calls = 0;
    const asking = (ms: number) => new DispatchError("rate_limited", "slow down", { retryable: true, status: 429, retryAfterMs: ms });
    await withRetry(
      async () => {
        calls++;
        if (calls === 1) throw asking(300);
        if (calls === 2) throw asking(60_000);
        if (calls === 3) throw asking(0);
        return "ok";
      },
      { policy: { ...policy, initialDelayMs: 10, maxDelayMs: 400 }, signal: new AbortController().signal, clock, onAttempt: (a) => attempts.push(a), random: () => 1 },
    );
    expect(attempts.map((a) => a.delayMs)).toEqual([300, 400, 40, undefined]);
  });

  it("stops during backoff when cancelled", async () => {
    const controller = new AbortController();
    const attempts: Attempt[] = [];
    const slow = { ...policy, initialDelayMs: 5_000, maxDelayMs: 5_000 };
    const pending = withRetry(
      async () => {
        throw new DispatchError("overloaded", "busy", { retryable: true });
      },
      { policy: slow, signal: controller.signal, clock, onAttempt: (a) => attempts.push(a) },
    );
    setTimeout(() => controller.abort(new DispatchError("cancelled", "stop")), 20);
    const t0 = Date.now();
    await expect(pending).rejects.toMatchObject({ code: "cancelled" });
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(attempts).toHaveLength(1);
  });
});
