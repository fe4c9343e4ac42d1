import type { RetryPolicy } from "./definition";
import type { Attempt, Clock, FrameError } from "./types";

/** An error with a classification the retry loop understands. */
export class DispatchError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly details: unknown;
  /** How long the server asked to be left alone before the next attempt (its `Retry-After`). */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: string,
    message: string,
    options: { retryable?: boolean; status?: number; details?: unknown; cause?: unknown; retryAfterMs?: number } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "DispatchError";
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.status = options.status;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
  }

  toFrameError(): FrameError {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.status !== undefined ? { status: this.status } : {}),
      ...(this.details !== undefined ? { details: this.details } : {}),
    };
  }
}

/** HTTP statuses worth another attempt: rate limits, overload and server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status === 529 || (status >= 500 && status <= 599);
}

/** Exponential backoff with full jitter, capped: delay ∈ [base/2, base], base = initial·multiplier^(n-1). */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** (attempt - 1));
  return Math.round(base / 2 + random() * (base / 2));
}

/**
 * A `Retry-After` value in milliseconds: delay-seconds or an HTTP date (relative to `now`), or
 * `retry-after-ms` when a server sends that instead. Undefined when absent or unreadable.
 */
export function retryAfterMs(header: (name: string) => string | null | undefined, now: number = Date.now()): number | undefined {
  const ms = header("retry-after-ms")?.trim();
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Math.ceil(Number(ms));
  const value = header("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // An HTTP date names its day and month; Date.parse would also read "-3" as a year.
  const at = /[a-z]/i.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function toDispatchError(error: unknown): DispatchError {
  if (error instanceof DispatchError) return error;
  if (isAbortError(error)) return new DispatchError("cancelled", "The frame was cancelled", { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return new DispatchError("internal_error", message, { cause: error });
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
}

/**
 * One call's signal: it aborts with `parent`, or with a `TimeoutError` saying `message` after
 * `timeoutMs` (never, when that is not finite). One controller per call, cheaper than
 * `AbortSignal.any` with `AbortSignal.timeout`; `dispose` when the call is over.
 */
export function callSignal(parent: AbortSignal, timeoutMs: number, message: string): { signal: AbortSignal; isTimedOut(): boolean; dispose(): void } {
  const controller = new AbortController();
  let isTimedOut = false;
  const onAbort = () => controller.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.addEventListener("abort", onAbort, { once: true });
  const timer = Number.isFinite(timeoutMs)
    ? setTimeout(() => {
        isTimedOut = true;
        controller.abort(new DOMException(message, "TimeoutError"));
      }, timeoutMs)
    : undefined;
  return {
    signal: controller.signal,
    isTimedOut: () => isTimedOut,
    dispose() {
      clearTimeout(timer);
      parent.removeEventListener("abort", onAbort);
    },
  };
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason ?? new DOMException("Aborted", "AbortError"));
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason ?? new DOMException("Aborted", "AbortError"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export interface RetryOptions {
  policy: RetryPolicy;
  signal: AbortSignal;
  clock: Clock;
  /** Called once per attempt, successful or not, so every attempt is recorded. */
  onAttempt: (attempt: Attempt) => void;
  turn?: number;
  random?: () => number;
}

/**
 * Runs `operation` until it succeeds, fails with a non-retryable error, or the policy's
 * attempts are spent. Between attempts it waits the backoff, or as long as the server's
 * `Retry-After` asked when that is longer, up to the policy's `maxDelayMs`. Cancellation stops
 * the loop at once, including during the wait.
 */
export async function withRetry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { policy, signal, clock, onAttempt } = options;
  for (let attempt = 1; ; attempt++) {
    const started = clock.now();
    const t0 = performance.now();
    try {
      const result = await operation(attempt);
      onAttempt({
        attempt,
        ...(options.turn !== undefined ? { turn: options.turn } : {}),
        startedAt: started.toISOString(),
        endedAt: clock.now().toISOString(),
        durationMs: round(performance.now() - t0),
        ok: true,
      });
      return result;
    } catch (caught) {
      const error = signal.aborted ? cancellationError(signal) : toDispatchError(caught);
      const isLast = attempt >= policy.maxAttempts || !error.retryable || signal.aborted;
      const delayMs = isLast ? undefined : Math.max(backoffDelay(policy, attempt, options.random), Math.min(error.retryAfterMs ?? 0, policy.maxDelayMs));
      onAttempt({
        attempt,
        ...(options.turn !== undefined ? { turn: options.turn } : {}),
        startedAt: started.toISOString(),
        endedAt: clock.now().toISOString(),
        durationMs: round(performance.now() - t0),
        ok: false,
        error: error.toFrameError(),
        ...(delayMs !== undefined ? { delayMs } : {}),
      });
      if (isLast) throw error;
      await sleep(delayMs ?? 0, signal).catch(() => {
        throw cancellationError(signal);
      });
    }
  }
}

/** A frame that outlived its loop's `limits.timeoutMs`, in the same words wherever it is timed. */
export function frameTimeoutError(loopId: string, timeoutMs: number): DispatchError {
  return new DispatchError("frame_timeout", `Frame exceeded ${loopId}'s timeout of ${timeoutMs} ms (limits.timeoutMs)`);
}

/** Distinguishes a frame deadline from a cancellation by the reason the signal carries. */
export function cancellationError(signal: AbortSignal): DispatchError {
  const reason: unknown = signal.reason;
  if (reason instanceof DispatchError) return reason;
  return new DispatchError("cancelled", "The frame was cancelled");
}

export function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
