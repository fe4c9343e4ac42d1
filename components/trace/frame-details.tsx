"use client";

import type { ReactNode } from "react";
import type { TraceFrame } from "@/lib/runtime/types";
import { Badge, TypeBadge } from "../ui/badge";
import { formatDuration, formatTime, formatTokens } from "../ui/format";
import { JsonBlock } from "../ui/json-block";
import { StatusBadge } from "../ui/status-badge";
import { buttonClass } from "../ui/styles";

interface FrameDetailsProps {
  frame: TraceFrame;
  /** Child frames that are visible to the viewer, by id. */
  frameIndex: ReadonlyMap<string, TraceFrame>;
  onOpenFrame: (frameId: string) => void;
}

/** Everything recorded about one frame. Rendering only. */
export function FrameDetails({ frame, frameIndex, onOpenFrame }: FrameDetailsProps) {
  const parent = frame.parentFrameId ? frameIndex.get(frame.parentFrameId) : undefined;
  const decision = frame.authorization;
  return (
    <section aria-label="Frame details" className="space-y-5 p-4 text-sm">
      <header className="space-y-2">
        <div className="flex flex-wrap items-center gap-2">
          <h3 className="font-mono text-base font-semibold">{frame.loop.id}</h3>
          <TypeBadge type={frame.loop.type} />
          <StatusBadge status={frame.status} />
        </div>
        {parent ? (
          <button type="button" className={buttonClass.ghost} onClick={() => onOpenFrame(parent.id)}>
            ↑ Parent frame: <span className="font-mono">{parent.loop.id}</span>
          </button>
        ) : null}
      </header>

      <dl className="grid grid-cols-[8.5rem_1fr] gap-x-3 gap-y-1.5">
        <Term label="Loop">
          <span className="font-mono">{frame.loop.id}</span> in realm {frame.loop.realm}
        </Term>
        <Term label="Revision">r{frame.loop.revision}</Term>
        <Term label="Prompt version">
          {frame.prompt ? (
            <>
              v{frame.prompt.version} <span className="text-zinc-500">({frame.prompt.reason})</span>
            </>
          ) : (
            "—"
          )}
        </Term>
        <Term label="Model">{frame.model ?? "—"}</Term>
        <Term label="Duration">{frame.status === "running" ? "running…" : formatDuration(frame.durationMs)}</Term>
        <Term label="Tokens">{formatTokens(frame.usage.inputTokens, frame.usage.outputTokens)}</Term>
        <Term label="Turns">{frame.loop.type === "llm" ? frame.turns : "—"}</Term>
        <Term label="Attempts">{frame.attempts.length || "—"}</Term>
        <Term label="Started">{formatTime(frame.startedAt)}</Term>
        <Term label="Ended">{formatTime(frame.endedAt)}</Term>
        <Term label="Frame id">
          <span className="break-all font-mono text-xs">{frame.id}</span>
        </Term>
      </dl>

      <Section title="Identity and authorization">
        <dl className="grid grid-cols-[8.5rem_1fr] gap-x-3 gap-y-1.5">
          <Term label="Caller">
            {frame.identity.displayName ? `${frame.identity.displayName} ` : ""}
            <span className="font-mono">({frame.identity.subject})</span>
          </Term>
          <Term label="Source">{frame.identity.source}</Term>
          <Term label="Decision">
            <span className={decision.allowed ? "font-medium text-emerald-700 dark:text-emerald-400" : "font-medium text-amber-700 dark:text-amber-400"}>
              {decision.allowed ? "allowed" : "denied"}
            </span>{" "}
            to {decision.action} in {decision.realm}
          </Term>
          <Term label="Role">{decision.role ?? "none"}</Term>
          <Term label="Via">
            <span className="break-all font-mono text-xs">{decision.via ?? "—"}</span>
          </Term>
          <Term label="Reason">{decision.reason}</Term>
          <Term label="Checked">{formatTime(decision.checkedAt)}</Term>
        </dl>
      </Section>

      {frame.error ? (
        <Section title="Error">
          <div role="alert" className="rounded-md border border-red-200 bg-red-50 p-3 text-red-800 dark:border-red-500/30 dark:bg-red-500/10 dark:text-red-200">
            <p className="font-mono text-xs font-semibold">{frame.error.code}</p>
            <p className="mt-1 whitespace-pre-wrap break-words">{frame.error.message}</p>
          </div>
        </Section>
      ) : null}

      <Section title={`Tool calls (${frame.toolCalls.length})`}>
        {frame.toolCalls.length === 0 ? (
          <p className="text-zinc-500">This frame made no tool calls.</p>
        ) : (
          <ul aria-label="Tool calls" className="space-y-2">
            {frame.toolCalls.map((call) => {
              const child = call.childFrameId ? frameIndex.get(call.childFrameId) : undefined;
              return (
                <li key={call.id} aria-label={`Tool call ${call.name}`} className="rounded-md border border-zinc-200 p-3 dark:border-zinc-800">
                  <div className="flex flex-wrap items-center gap-2">
                    <span className="font-mono font-medium">{call.name}</span>
                    <Badge>{call.kind}</Badge>
                    <span className="text-xs text-zinc-500">turn {call.turn}</span>
                    {call.isError ? <span className="text-xs font-medium text-red-600 dark:text-red-400">error result</span> : null}
                    <span className="ml-auto text-xs tabular-nums text-zinc-500">{formatDuration(call.durationMs)}</span>
                  </div>
                  {child ? (
                    <button type="button" className={`${buttonClass.ghost} mt-1 -ml-2`} onClick={() => onOpenFrame(child.id)}>
                      → Open child frame <span className="font-mono">{child.loop.id}</span> <StatusBadge status={child.status} />
                    </button>
                  ) : call.childFrameId ? (
                    <p className="mt-1 text-xs text-zinc-500">Its child frame is in a realm you cannot view.</p>
                  ) : null}
                  <details className="mt-2">
                    <summary className="cursor-pointer text-xs text-zinc-600 dark:text-zinc-400">Input and output</summary>
                    <div className="mt-2 space-y-2">
                      <JsonBlock label={`Input of ${call.name}`} value={call.input} maxHeight="12rem" />
                      <JsonBlock label={`Output of ${call.name}`} value={call.output} maxHeight="12rem" />
                    </div>
                  </details>
                </li>
              );
            })}
          </ul>
        )}
      </Section>

      <Section title="Input">
        <JsonBlock label="Frame input" value={frame.input} maxHeight="16rem" />
      </Section>
      <Section title="Output">
        <JsonBlock label="Frame output" value={frame.output} maxHeight="16rem" />
      </Section>

      {frame.attempts.length > 0 ? (
        <Section title="Attempts">
          <ol className="space-y-1 text-xs">
            {frame.attempts.map((attempt, i) => (
              <li key={i} className="flex flex-wrap gap-2">
                <span className="font-medium">
                  #{attempt.attempt}
                  {attempt.turn !== undefined ? ` (turn ${attempt.turn})` : ""}
                </span>
                <span className={attempt.ok ? "text-emerald-700 dark:text-emerald-400" : "text-red-700 dark:text-red-400"}>{attempt.ok ? "ok" : (attempt.error?.code ?? "failed")}</span>
                <span className="tabular-nums text-zinc-500">{formatDuration(attempt.durationMs)}</span>
                {attempt.delayMs ? <span className="text-zinc-500">then waited {formatDuration(attempt.delayMs)}</span> : null}
              </li>
            ))}
          </ol>
        </Section>
      ) : null}
    </section>
  );
}

function Term({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt className="text-zinc-500 dark:text-zinc-400">{label}</dt>
      <dd className="min-w-0">{children}</dd>
    </>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div>
      <h4 className="mb-2 text-xs font-semibold uppercase tracking-wide text-zinc-500 dark:text-zinc-400">{title}</h4>
      {children}
    </div>
  );
}
