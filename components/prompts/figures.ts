import type { PromptVersionFigures } from "@/db/queries/prompts";
import { formatCount, formatDuration } from "../ui/format";

/** Figures of a version as the versions table and the comparison show them; "—" where there is nothing yet. */
export function formatFigures(figures: PromptVersionFigures): {
  runs: string;
  meanScore: string;
  errorRate: string;
  latency: string;
  tokens: string;
} {
  return {
    runs: formatCount(figures.runs),
    meanScore: figures.meanScore === null ? "—" : `${figures.meanScore.toFixed(2)} (${figures.scoreCount})`,
    errorRate: figures.errorRate === null ? "—" : `${(figures.errorRate * 100).toFixed(figures.errorRate === 0 || figures.errorRate === 1 ? 0 : 1)} %`,
    latency: figures.latencyP50Ms === null ? "—" : `${formatDuration(figures.latencyP50Ms)} / ${formatDuration(figures.latencyP95Ms)}`,
    tokens: figures.inputTokens + figures.outputTokens === 0 ? "—" : `${formatCount(figures.inputTokens)} in · ${formatCount(figures.outputTokens)} out`,
  };
}

/** The first line of a prompt, shortened, for lists. */
export function promptPreview(systemPrompt: string, max = 90): string {
  const first = systemPrompt.split(/\r?\n/).find((line) => line.trim() !== "")?.trim() ?? "";
  return first.length > max ? `${first.slice(0, max - 1)}…` : first;
}
