import { describe, expect, it } from "vitest";
import { redactError } from "./redact";
import { DispatchError } from "./retry";

describe("redactError", () => {
  it("scrubs a secret from the message and details and keeps everything else the retry loop reads", () => {
    const error = new DispatchError("http_status", "HTTP 429 from https://api.example: key sk-live-123 is over its quota", {
      status: 429,
      retryable: true,
      details: { body: "quota exceeded for sk-live-123" },
      retryAfterMs: 2_000,
    });
    const redacted = redactError(error, ["sk-live-123"]) as DispatchError;
    expect(redacted).not.toBe(error);
    expect(redacted).toMatchObject({ code: "http_status", status: 429, retryable: true, retryAfterMs: 2_000, details: { body: "quota exceeded for [redacted]" } });
    expect(redacted.message).toBe("HTTP 429 from https://api.example: key [redacted] is over its quota");
    // Nothing to scrub: the same error.
    expect(redactError(error, ["another-secret"])).toBe(error);
  });
});
