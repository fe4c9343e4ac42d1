"use client";

import { useActionState, useState } from "react";
import type { ReplaySourceRun } from "@/db/queries/prompts";
import { formatTime, prettyJson, shortId } from "../ui/format";
import { buttonClass, inputClass, labelClass } from "../ui/styles";
import { ActionErrorNote, type FormAction } from "./form-parts";

const PREVIEW_CHARS = 120;

function preview(value: unknown): string {
  const text = typeof value === "string" ? value : prettyJson(value).replace(/\s+/g, " ");
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS - 1)}…` : text;
}

/**
 * Chooses recent runs and a version to replay their inputs on. The chosen run ids travel as one
 * comma-separated field; the server checks each run belongs to this loop and to the caller's realms.
 */
export function ReplayForm({
  loopId,
  versions,
  defaultVersion,
  compareWith,
  sources,
  action,
}: {
  loopId: string;
  versions: number[];
  defaultVersion: number;
  compareWith: number;
  sources: ReplaySourceRun[];
  action: FormAction<never>;
}) {
  const [state, formAction, isPending] = useActionState(action, null);
  const [chosen, setChosen] = useState<string[]>(() => sources.slice(0, 5).map((run) => run.runId));
  const error = state && !state.ok ? state.error : null;
  const toggle = (runId: string) => setChosen((current) => (current.includes(runId) ? current.filter((id) => id !== runId) : [...current, runId]));

  if (sources.length === 0) {
    return <p className="text-sm text-zinc-500">No recent runs of version {compareWith} to replay. Run the loop first.</p>;
  }
  return (
    <form action={formAction} className="space-y-3" aria-label="Replay recent runs">
      <input type="hidden" name="loopId" value={loopId} />
      <input type="hidden" name="runIds" value={chosen.join(",")} />
      <input type="hidden" name="compareWith" value={compareWith} />
      <fieldset>
        <legend className={labelClass}>Recent runs of version {compareWith} (up to 20)</legend>
        <ul className="mt-1 divide-y divide-zinc-100 rounded-md border border-zinc-200 dark:divide-zinc-800 dark:border-zinc-800">
          {sources.map((run) => (
            <li key={run.runId}>
              <label className="flex cursor-pointer items-start gap-3 px-3 py-2 text-sm hover:bg-zinc-50 dark:hover:bg-zinc-900">
                <input type="checkbox" className="mt-1" checked={chosen.includes(run.runId)} onChange={() => toggle(run.runId)} />
                <span className="min-w-0">
                  <span className="font-mono text-xs">{shortId(run.runId)}</span>{" "}
                  <span className="text-xs text-zinc-500">
                    {formatTime(run.createdAt)} · {run.caller} · {run.status}
                  </span>
                  <span className="block truncate font-mono text-xs text-zinc-600 dark:text-zinc-400">{preview(run.input)}</span>
                </span>
              </label>
            </li>
          ))}
        </ul>
      </fieldset>
      <div className="flex flex-wrap items-end gap-3">
        <div>
          <label htmlFor="replay-version" className={labelClass}>
            Replay on
          </label>
          <select id="replay-version" name="version" defaultValue={defaultVersion} className={`${inputClass} mt-1 w-32`}>
            {versions.map((version) => (
              <option key={version} value={version}>
                v{version}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={isPending || chosen.length === 0} className={buttonClass.primary}>
          {isPending ? "Starting…" : `Replay ${chosen.length} run${chosen.length === 1 ? "" : "s"}`}
        </button>
      </div>
      {error ? <ActionErrorNote id="replay-error" error={error} /> : null}
    </form>
  );
}
