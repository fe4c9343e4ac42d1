"use client";

import { useQuery } from "@tanstack/react-query";
import { useId, useState, type MouseEvent, type ReactNode } from "react";
import type { FramePromptDetails } from "@/db/queries/prompt-details";
import type { TraceFrame, TraceToolCall } from "@/lib/runtime/types";
import { formatDuration, formatTime, STATUS_STYLE, TYPE_STYLE } from "./format";
import type { TraceIndex } from "./trace-index";
import { displayText } from "../ui/format";
import type { FormAction } from "../prompts/form-parts";
import { ScoreForm, type ScoreDone } from "../prompts/score-form";

const JSON_PREVIEW_CHARS = 20_000;

/** The frame as exported: everything recorded about it, without the nested children. */
export function frameJson(frame: TraceFrame): string {
  const { children: _children, ...rest } = frame;
  return JSON.stringify(rest, null, 2);
}

async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain-HTTP deployments on a LAN have no Clipboard API.
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("copy refused");
}

function download(filename: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function Section({ title, children, count }: { title: string; children: ReactNode; count?: number }) {
  const id = useId();
  return (
    <section aria-labelledby={id} className="border-t border-zinc-200 px-4 py-3 dark:border-zinc-800">
      <h3 id={id} className="mb-2 text-xs font-semibold uppercase tracking-wide text-zinc-500">
        {title}
        {count !== undefined && <span className="ml-1 font-normal normal-case">({count})</span>}
      </h3>
      {children}
    </section>
  );
}

function Fields({ rows }: { rows: [string, ReactNode][] }) {
  return (
    <dl className="grid grid-cols-[8rem_1fr] gap-x-3 gap-y-1 text-sm">
      {rows.map(([label, value]) => (
        <div key={label} className="contents">
          <dt className="text-zinc-500">{label}</dt>
          <dd className="min-w-0 break-words">{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function JsonBlock({ value, label }: { value: unknown; label: string }) {
  const [isFull, setFull] = useState(false);
  if (value === null || value === undefined) return <p className="text-sm text-zinc-500">None</p>;
  const text = displayText(value);
  const isLong = text.length > JSON_PREVIEW_CHARS;
  return (
    <div>
      <pre
        aria-label={label}
        className="max-h-72 overflow-auto rounded-md bg-zinc-100 p-2 font-mono text-xs leading-5 whitespace-pre-wrap break-words text-zinc-800 dark:bg-zinc-900 dark:text-zinc-200"
      >
        {isLong && !isFull ? `${text.slice(0, JSON_PREVIEW_CHARS)}…` : text}
      </pre>
      {isLong && (
        <button type="button" onClick={() => setFull(!isFull)} className="mt-1 text-xs text-indigo-700 underline dark:text-indigo-300">
          {isFull ? "Show less" : `Show all ${text.length.toLocaleString("en")} characters`}
        </button>
      )}
    </div>
  );
}

function StatusPill({ status, label }: { status: TraceFrame["status"]; label?: string }) {
  return <span className={`rounded px-1.5 py-px text-xs font-medium ${STATUS_STYLE[status]}`}>{label ?? status}</span>;
}

function FrameLink({ frame, onOpen, children }: { frame: TraceFrame; onOpen(id: string): void; children: ReactNode }) {
  const open = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    onOpen(frame.id);
  };
  return (
    <a href={`?frame=${encodeURIComponent(frame.id)}`} onClick={open} className="font-medium text-indigo-700 underline hover:no-underline dark:text-indigo-300">
      {children}
    </a>
  );
}

async function fetchPromptDetails(runId: string, frameId: string): Promise<FramePromptDetails> {
  const response = await fetch(`/api/runs/${encodeURIComponent(runId)}/frames/${encodeURIComponent(frameId)}/prompt`, {
    headers: { accept: "application/json" },
  });
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new Error(body?.error?.message ?? `The server answered ${response.status}`);
  }
  return (await response.json()) as FramePromptDetails;
}

function PromptSection({ runId, frame, loadDetails }: { runId: string; frame: TraceFrame; loadDetails: boolean }) {
  const prompt = frame.prompt;
  const details = useQuery({
    queryKey: ["frame-prompt", runId, frame.id],
    queryFn: () => fetchPromptDetails(runId, frame.id),
    enabled: loadDetails && prompt !== null,
    // Prompt versions are immutable and so is the promotion that was in force when a frame ran.
    staleTime: Infinity,
    retry: false,
  });
  if (!prompt) return null;
  const promotion = details.data?.promotion;
  return (
    <Section title="Prompt">
      <Fields
        rows={[
          ["Version", <span key="v" className="font-medium">Version {prompt.version}</span>],
          ["Chosen because", prompt.rolloutId ? `${prompt.reason} (rollout ${prompt.rolloutId})` : prompt.reason],
          ...(details.data
            ? ([
                [
                  "Promoted",
                  promotion
                    ? `${formatTime(promotion.createdAt)} by ${promotion.actor} (${promotion.kind}${promotion.fromVersion !== null ? ` from version ${promotion.fromVersion}` : ""}${promotion.reason ? `: ${promotion.reason}` : ""})`
                    : "Not the active version when this frame ran",
                ],
                ["Written", `${formatTime(details.data.prompt.createdAt)} by ${details.data.prompt.author}${details.data.prompt.message ? ` — ${details.data.prompt.message}` : ""}`],
                ["Active now", details.data.isActiveNow ? "Yes" : "No"],
              ] as [string, ReactNode][])
            : []),
        ]}
      />
      <div className="mt-2">
        {!loadDetails ? null : details.isPending ? (
          <p className="text-sm text-zinc-500">Loading the prompt text…</p>
        ) : details.isError ? (
          <p role="alert" className="text-sm text-red-700 dark:text-red-300">
            Could not load the prompt text: {details.error.message}
          </p>
        ) : (
          <JsonBlock value={details.data.prompt.systemPrompt || "(empty system prompt)"} label={`Prompt version ${prompt.version} text`} />
        )}
      </div>
    </Section>
  );
}

function ToolCall({ call, child, onOpenFrame }: { call: TraceToolCall; child: TraceFrame | undefined; onOpenFrame(id: string): void }) {
  return (
    <li className="rounded-md border border-zinc-200 p-2 dark:border-zinc-800">
      <div className="flex flex-wrap items-center gap-2 text-sm">
        <span className="font-mono font-medium">{call.name}</span>
        <span className="text-xs text-zinc-500">
          {call.kind} · turn {call.turn} · {formatDuration(call.durationMs)}
        </span>
        {call.isError && <span className="rounded bg-red-100 px-1.5 text-xs text-red-800 dark:bg-red-950 dark:text-red-300">error</span>}
        {child && (
          <span className="ml-auto text-sm">
            <FrameLink frame={child} onOpen={onOpenFrame}>
              Open frame {child.loop.id}
            </FrameLink>
          </span>
        )}
      </div>
      <div className="mt-2 grid gap-2">
        <div>
          <p className="mb-1 text-xs text-zinc-500">Input</p>
          <JsonBlock value={call.input} label={`${call.name} input`} />
        </div>
        <div>
          <p className="mb-1 text-xs text-zinc-500">Output</p>
          <JsonBlock value={call.output} label={`${call.name} output`} />
        </div>
      </div>
    </li>
  );
}

export interface InspectorProps {
  runId: string;
  frame: TraceFrame;
  index: TraceIndex;
  /** Fetch the prompt text from the server; off where there is no server record (the benchmark). */
  loadPromptDetails: boolean;
  onOpenFrame(id: string): void;
  onClose(): void;
  /** Present when the viewer may score frames (operator or higher in the frame's realm). */
  scoreAction?: FormAction<ScoreDone>;
}

/** Everything recorded about one frame, with links to the frames around it. */
export function Inspector({ runId, frame, index, loadPromptDetails, onOpenFrame, onClose, scoreAction }: InspectorProps) {
  const [notice, setNotice] = useState("");
  const parent = index.parentOf.get(frame.id) ?? null;
  const spawnedBy = parent?.toolCalls.find((call) => call.childFrameId === frame.id || (frame.parentToolCallId !== null && call.id === frame.parentToolCallId));
  const type = TYPE_STYLE[frame.loop.type];

  const copy = () => {
    copyText(frameJson(frame)).then(
      () => setNotice("Frame JSON copied"),
      () => setNotice("Copying was refused by the browser; use Download JSON"),
    );
  };

  return (
    <aside aria-label="Frame inspector" className="flex h-full min-h-0 flex-col bg-white dark:bg-zinc-950">
      <header className="flex items-start gap-2 px-4 py-3">
        <div className="min-w-0 flex-1">
          <h2 className="truncate text-base font-semibold">
            {frame.loop.id}
          </h2>
          <p className="mt-0.5 flex flex-wrap items-center gap-2 text-xs text-zinc-500">
            <span className={`font-semibold uppercase ${type.label}`}>{frame.loop.type}</span>
            <span>revision {frame.loop.revision}</span>
            <span>realm {frame.loop.realm}</span>
            <StatusPill status={frame.status} />
          </p>
        </div>
        <button
          type="button"
          onClick={onClose}
          aria-label="Close inspector"
          className="rounded-md px-2 py-1 text-lg leading-none text-zinc-500 hover:bg-zinc-100 dark:hover:bg-zinc-800"
        >
          ×
        </button>
      </header>
      <div className="flex flex-wrap items-center gap-2 px-4 pb-3">
        <button
          type="button"
          onClick={copy}
          className="rounded-md border border-zinc-300 px-2.5 py-1 text-sm hover:bg-zinc-100 dark:border-zinc-700 dark:hover:bg-zinc-800"
        >
          Copy JSON
        </button>
        <button
          type="button"
          onClick={() => download(`frame-${frame.loop.id}-${frame.id}.json`, frameJson(frame))}
          className="rounded-md border border-zinc-300 px-2.5 py-1 text-sm hover:bg-zinc-100 dark:border-zinc-700 dark:hover:bg-zinc-800"
        >
          Download JSON
        </button>
        <span role="status" className="text-xs text-zinc-500">
          {notice}
        </span>
      </div>

      <div className="min-h-0 flex-1 overflow-y-auto pb-6">
        <Section title="Frame">
          <Fields
            rows={[
              ["Loop", `${frame.loop.id} · revision ${frame.loop.revision}`],
              ["Status", <StatusPill key="s" status={frame.status} />],
              ["Duration", formatDuration(frame.durationMs)],
              ["Created", formatTime(frame.createdAt)],
              ["Started", formatTime(frame.startedAt)],
              ["Ended", formatTime(frame.endedAt)],
              ["Model", frame.model ?? "—"],
              [
                "Tokens",
                frame.usage.inputTokens + frame.usage.outputTokens > 0
                  ? `${frame.usage.inputTokens.toLocaleString("en")} in · ${frame.usage.outputTokens.toLocaleString("en")} out`
                  : "—",
              ],
              ["Turns", String(frame.turns)],
              ["Depth", String(frame.depth)],
              [
                "Called by",
                parent ? (
                  <span key="p">
                    <FrameLink frame={parent} onOpen={onOpenFrame}>
                      {parent.loop.id}
                    </FrameLink>
                    {spawnedBy && (
                      <>
                        {" "}
                        through tool call <span className="font-mono">{spawnedBy.name}</span> (turn {spawnedBy.turn})
                      </>
                    )}
                  </span>
                ) : (
                  "— (the run's root frame)"
                ),
              ],
              ["Frame id", <span key="id" className="font-mono text-xs">{frame.id}</span>],
            ]}
          />
        </Section>

        <PromptSection runId={runId} frame={frame} loadDetails={loadPromptDetails} />

        {frame.error && (
          <Section title="Error">
            <p className="text-sm">
              <span className="font-mono font-medium text-red-700 dark:text-red-300">{frame.error.code}</span> {frame.error.message}
            </p>
            {frame.error.details !== undefined && <JsonBlock value={frame.error.details} label="Error details" />}
          </Section>
        )}

        <Section title="Input">
          <JsonBlock value={frame.input} label="Frame input" />
        </Section>
        <Section title="Output">
          <JsonBlock value={frame.output} label="Frame output" />
        </Section>

        <Section title="Tool calls" count={frame.toolCalls.length}>
          {frame.toolCalls.length === 0 ? (
            <p className="text-sm text-zinc-500">This frame called no tools.</p>
          ) : (
            <ul className="grid gap-2">
              {frame.toolCalls.map((call) => (
                <ToolCall key={call.id} call={call} child={call.childFrameId ? index.byId.get(call.childFrameId) : undefined} onOpenFrame={onOpenFrame} />
              ))}
            </ul>
          )}
        </Section>

        <Section title="Attempts" count={frame.attempts.length}>
          {frame.attempts.length === 0 ? (
            <p className="text-sm text-zinc-500">No attempt recorded yet.</p>
          ) : (
            <table className="w-full text-left text-xs">
              <thead className="text-zinc-500">
                <tr>
                  <th className="py-1 font-medium">#</th>
                  <th className="py-1 font-medium">Turn</th>
                  <th className="py-1 font-medium">Started</th>
                  <th className="py-1 font-medium">Took</th>
                  <th className="py-1 font-medium">Result</th>
                </tr>
              </thead>
              <tbody>
                {frame.attempts.map((attempt, i) => (
                  <tr key={i} className="border-t border-zinc-100 align-top dark:border-zinc-900">
                    <td className="py-1">{attempt.attempt}</td>
                    <td className="py-1">{attempt.turn ?? "—"}</td>
                    <td className="py-1 font-mono">{formatTime(attempt.startedAt).slice(11)}</td>
                    <td className="py-1">{formatDuration(attempt.durationMs)}</td>
                    <td className="py-1">
                      {attempt.ok ? "ok" : `${attempt.error?.code ?? "failed"}${attempt.error?.message ? `: ${attempt.error.message}` : ""}`}
                      {attempt.delayMs !== undefined && <span className="text-zinc-500"> · retried after {formatDuration(attempt.delayMs)}</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>

        <Section title="Caller">
          <Fields
            rows={[
              ["Subject", frame.identity.subject],
              ["Name", frame.identity.displayName ?? "—"],
              ["Kind", frame.identity.kind],
              ["Source", frame.identity.source],
              ["Groups", frame.identity.groups.length > 0 ? frame.identity.groups.join(", ") : "—"],
            ]}
          />
        </Section>

        <Section title="Authorization">
          <Fields
            rows={[
              [
                "Decision",
                <span key="d" className={frame.authorization.allowed ? "text-emerald-700 dark:text-emerald-300" : "font-medium text-orange-700 dark:text-orange-300"}>
                  {frame.authorization.allowed ? "Allowed" : "Denied"}
                </span>,
              ],
              ["Realm", frame.authorization.realm],
              ["Role", frame.authorization.role ?? "—"],
              ["Via", frame.authorization.via ?? "—"],
              ["Reason", frame.authorization.reason],
              ["Checked", formatTime(frame.authorization.checkedAt)],
            ]}
          />
        </Section>
        {scoreAction && frame.status === "succeeded" ? (
          <Section title={frame.prompt ? `Score (counts for prompt v${frame.prompt.version})` : "Score"}>
            <ScoreForm key={frame.id} frameId={frame.id} action={scoreAction} />
          </Section>
        ) : null}
      </div>
    </aside>
  );
}
