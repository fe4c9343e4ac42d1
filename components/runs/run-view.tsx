"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useMemo, type ComponentProps, type ReactNode } from "react";
import type { RunDetail } from "@/lib/services/get-run";
import type { InspectorProps } from "../trace-graph/inspector";
import { TraceExplorer as TraceGraphExplorer } from "../trace-graph/trace-explorer";
import { TraceExplorer } from "../trace/trace-explorer";
import { CancelRunButton } from "./cancel-run-button";
import {
  formatDuration,
  formatTime,
  formatTokens,
  shortId,
} from "../ui/format";
import { JsonBlock } from "../ui/json-block";
import { StatusBadge } from "../ui/status-badge";
import { buttonClass, cardClass, linkClass } from "../ui/styles";

const POLL_INTERVAL_MS = 1_000;

async function fetchRun(runId: string): Promise<RunDetail> {
  const response = await fetch(`/api/runs/${encodeURIComponent(runId)}`, {
    cache: "no-store",
    headers: { accept: "application/json" },
  });
  if (!response.ok)
    throw new Error(`The run could not be refreshed (HTTP ${response.status})`);
  return (await response.json()) as RunDetail;
}

/** A run still waiting for a worker (cluster and embedded engine) is as live as one running: it can be followed and cancelled. */
function hasNotEnded(status: string): boolean {
  return status === "queued" || status === "running";
}

/**
 * A run and its trace; while the run executes it refreshes itself every second until it ends.
 * The server hands the run over as JSON text: React's encoding of a 10,000-frame object tree
 * costs seconds on the server and again in the browser, a string one `JSON.parse`. The text is
 * what the refresh endpoint answers too, so the first render and every refresh see the same shapes.
 */
export function RunView({
  initialJson,
  initialFrameId,
  canExport = false,
  scoreAction,
  cancelAction,
}: {
  initialJson: string;
  initialFrameId: string | null;
  canExport?: boolean;
  scoreAction?: InspectorProps["scoreAction"];
  /** Present when the viewer may cancel runs of this realm. */
  cancelAction?: ComponentProps<typeof CancelRunButton>["action"];
}) {
  const initial = useMemo(() => JSON.parse(initialJson) as RunDetail, [initialJson]);
  const { data, error } = useQuery({
    queryKey: ["run", initial.run.id],
    queryFn: () => fetchRun(initial.run.id),
    initialData: initial,
    refetchInterval: (query) =>
      query.state.data && hasNotEnded(query.state.data.run.status)
        ? POLL_INTERVAL_MS
        : false,
  });
  const { run, trace } = data;
  const isLive = hasNotEnded(run.status);

  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-end justify-between gap-4">
        <div>
          <div className="mb-1 text-sm text-zinc-500 dark:text-zinc-400">
            <Link href="/runs" className="hover:underline">
              Runs
            </Link>{" "}
            / {run.realm}
          </div>
          <h1 className="flex flex-wrap items-center gap-3 text-2xl font-semibold tracking-tight">
            <span>
              Run <span className="font-mono">{shortId(run.id)}</span> of{" "}
              <Link
                href={`/loops/${encodeURIComponent(run.loopId)}`}
                className={`font-mono ${linkClass}`}
              >
                {run.loopId}
              </Link>
            </span>
            <span role="status" aria-label={`Run status: ${run.status}`}>
              <StatusBadge status={run.status} />
            </span>
          </h1>
        </div>
        <div className="flex items-center gap-3">
          {isLive ? (
            <span className="flex items-center gap-2 text-sm text-sky-700 dark:text-sky-300">
              <span
                aria-hidden
                className="size-2 animate-pulse rounded-full bg-sky-500"
              />
              Live — updating every second
            </span>
          ) : null}
          {cancelAction && isLive ? <CancelRunButton runId={run.id} action={cancelAction} /> : null}
          {canExport && !isLive ? (
            // A plain download: the bundle streams from the server, signed, as one archive.
            <a
              href={`/api/runs/${encodeURIComponent(run.id)}/export`}
              className={buttonClass.secondary}
              download
            >
              Export compliance bundle
            </a>
          ) : null}
          <Link
            href={`/loops/${encodeURIComponent(run.loopId)}`}
            className={buttonClass.secondary}
          >
            Run again
          </Link>
        </div>
      </div>

      {error ? (
        <p
          role="alert"
          className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:border-amber-500/30 dark:bg-amber-500/10 dark:text-amber-200"
        >
          {error.message}. The page shows the last state it received.
        </p>
      ) : null}

      <dl
        className={`${cardClass} grid grid-cols-2 gap-x-6 gap-y-3 p-4 text-sm sm:grid-cols-3 lg:grid-cols-6`}
      >
        <Stat label="Caller">
          {run.identity.displayName ?? run.caller}{" "}
          <span className="font-mono text-xs text-zinc-500">
            ({run.caller})
          </span>
        </Stat>
        <Stat label="Loop revision">r{run.loopRevision}</Stat>
        <Stat label="Started">{formatTime(run.createdAt)}</Stat>
        <Stat label="Duration">
          {isLive ? "running…" : formatDuration(run.durationMs)}
        </Stat>
        <Stat label="Frames">{run.frameCount}</Stat>
        <Stat label="Tokens">
          {formatTokens(run.inputTokens, run.outputTokens)}
        </Stat>
      </dl>

      <div className="grid gap-4 lg:grid-cols-2">
        <section
          aria-labelledby="run-input-heading"
          className={`${cardClass} p-4`}
        >
          <h2 id="run-input-heading" className="mb-2 text-sm font-semibold">
            Input
          </h2>
          <JsonBlock label="Run input" value={run.input} maxHeight="14rem" />
        </section>
        <section
          aria-labelledby="run-result-heading"
          className={`${cardClass} p-4`}
        >
          <h2 id="run-result-heading" className="mb-2 text-sm font-semibold">
            {run.error ? "Error" : "Output"}
          </h2>
          {run.error ? (
            <div
              role="alert"
              className="rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800 dark:border-red-500/30 dark:bg-red-500/10 dark:text-red-200"
            >
              <p className="font-mono text-xs font-semibold">
                {run.error.code}
              </p>
              <p className="mt-1 whitespace-pre-wrap break-words">
                {run.error.message}
              </p>
            </div>
          ) : isLive ? (
            <p className="text-sm text-zinc-500">The run is still executing.</p>
          ) : (
            <JsonBlock
              label="Run output"
              value={run.output}
              maxHeight="14rem"
            />
          )}
        </section>
      </div>

      <section aria-labelledby="trace-heading">
        <div className="mb-2 flex items-baseline justify-between">
          <h2 id="trace-heading" className="text-lg font-semibold">
            Loop Stack Tree
          </h2>
          <p className="text-xs text-zinc-500">
            Click a frame for its details · arrow keys move and expand
          </p>
        </div>
        <TraceGraphExplorer
          runId={run.id}
          trace={trace}
          initialFrameId={initialFrameId}
          {...(scoreAction ? { scoreAction } : {})}
          listView={
            <TraceExplorer trace={trace} initialFrameId={initialFrameId} />
          }
        />
      </section>
    </div>
  );
}

function Stat({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="min-w-0">
      <dt className="text-xs text-zinc-500 dark:text-zinc-400">{label}</dt>
      <dd className="mt-0.5 break-words font-medium">{children}</dd>
    </div>
  );
}
