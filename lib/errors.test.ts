import { describe, expect, it, vi } from "vitest";
import { AppError, isAppError } from "./errors";

describe("AppError", () => {
  it("is recognised by every copy of its module, as the console's separate server bundles each have one", async () => {
    vi.resetModules();
    const copy = await import("./errors");
    expect(copy.AppError).not.toBe(AppError);

    const fromCopy = new copy.AppError("invalid_input", "q: must be string", { issues: [{ path: "q", message: "must be string" }] });
    expect(fromCopy instanceof AppError).toBe(true);
    expect(isAppError(fromCopy, "invalid_input")).toBe(true);
    expect(isAppError(fromCopy, "conflict")).toBe(false);
    expect(copy.isAppError(new AppError("conflict", "exists"), "conflict")).toBe(true);
  });

  it("is not any error that merely has a code", () => {
    const lookalike = Object.assign(new Error("exists"), { code: "conflict", issues: [] });
    expect(isAppError(lookalike)).toBe(false);
    expect(lookalike instanceof AppError).toBe(false);
    expect(isAppError(null)).toBe(false);
    expect(isAppError("invalid_input")).toBe(false);
  });
});
