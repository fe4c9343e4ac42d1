import { notFound } from "next/navigation";
import { TraceExplorerFromJson } from "@/components/trace-graph/trace-explorer";
import { syntheticTrace } from "@/components/trace-graph/synthetic-trace";

export const metadata = { title: "Trace explorer benchmark" };

// Decided per request: the switch is read when the server runs, not when it is built.
export const dynamic = "force-dynamic";

const MAX_FRAMES = 50_000;

// Each size is generated once per server process, so the figures measure the page and the
// explorer rather than the generator.
const generated = new Map<string, { runId: string; json: string }>();

function generatedTrace(frames: number, seed: number): { runId: string; json: string } {
  const key = `${frames}:${seed}`;
  let entry = generated.get(key);
  if (!entry) {
    const trace = syntheticTrace({ frames, seed, maxDepth: 8, maxFanOut: 12 });
    entry = { runId: trace.runId, json: JSON.stringify(trace) };
    if (generated.size >= 8) generated.clear();
    generated.set(key, entry);
  }
  return entry;
}

/**
 * A generated trace of `?frames=` frames (default 1,000) in the trace explorer, for the
 * large-trace benchmark (`npm run bench -- trace-explorer`). It exists only when the server
 * runs with LOOPSTACKS_BENCH_PAGES=true, and it reads no data: nothing here needs a session.
 */
export default async function TraceBenchPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  if (process.env.LOOPSTACKS_BENCH_PAGES !== "true") notFound();
  const params = await searchParams;
  const requested = Number(Array.isArray(params.frames) ? params.frames[0] : params.frames);
  const frames = Number.isFinite(requested) && requested >= 1 ? Math.min(Math.floor(requested), MAX_FRAMES) : 1_000;
  const seed = Number(params.seed) || 1;
  const trace = generatedTrace(frames, seed);
  return (
    <main className="p-4">
      <h1 className="mb-3 text-lg font-semibold">
        Synthetic trace: {frames.toLocaleString("en")} frames
      </h1>
      <TraceExplorerFromJson
        runId={trace.runId}
        traceJson={trace.json}
        initialFrameId={typeof params.frame === "string" ? params.frame : null}
        loadPromptDetails={false}
      />
    </main>
  );
}
