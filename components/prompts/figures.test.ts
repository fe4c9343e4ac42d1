import { describe, expect, it } from "vitest";
import { emptyFigures } from "@/db/queries/prompts";
import { formatFigures, promptPreview } from "./figures";

describe("formatFigures", () => {
  it("shows dashes for a version that never ran", () => {
    expect(formatFigures(emptyFigures(3))).toEqual({ runs: "0", meanScore: "—", errorRate: "—", latency: "—", tokens: "—" });
  });

  it("formats rates, scores, latency percentiles and tokens", () => {
    const figures = { ...emptyFigures(2), runs: 1200, errorRate: 0.125, meanScore: 0.8333, scoreCount: 6, latencyP50Ms: 420, latencyP95Ms: 1830, inputTokens: 15_300, outputTokens: 900 };
    expect(formatFigures(figures)).toEqual({ runs: "1.2k", meanScore: "0.83 (6)", errorRate: "12.5 %", latency: "420 ms / 1.83 s", tokens: "15k in · 900 out" });
    expect(formatFigures({ ...figures, errorRate: 0 }).errorRate).toBe("0 %");
  });
});

describe("promptPreview", () => {
  it("takes the first non-empty line and shortens it", () => {
    expect(promptPreview("\n  You are a triage nurse.  \nBe brief.")).toBe("You are a triage nurse.");
    expect(promptPreview("x".repeat(200), 10)).toBe(`${"x".repeat(9)}…`);
    expect(promptPreview("")).toBe("");
  });
});
