import type { PromptVersionFigures } from "@/db/queries/prompts";
import { formatFigures } from "./figures";

/** A version's figures as `<dt>`/`<dd>` pairs, for a version's page and the comparison alike. */
export function FigureRows({ figures }: { figures: PromptVersionFigures }) {
  const shown = formatFigures(figures);
  return (
    <>
      <dt className="text-zinc-500">Runs</dt>
      <dd>{shown.runs}</dd>
      <dt className="text-zinc-500">Mean score</dt>
      <dd>{shown.meanScore}</dd>
      <dt className="text-zinc-500">Error rate</dt>
      <dd>{shown.errorRate}</dd>
      <dt className="text-zinc-500">Latency p50/p95</dt>
      <dd>{shown.latency}</dd>
      <dt className="text-zinc-500">Tokens</dt>
      <dd>{shown.tokens}</dd>
    </>
  );
}
