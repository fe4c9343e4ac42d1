"use client";

import { useActionState, useState } from "react";
import type { PromptRollout } from "@/db/queries/prompts";
import { formatTime } from "../ui/format";
import { buttonClass, inputClass, labelClass } from "../ui/styles";
import { ActionErrorNote, StatusNote, type FormAction } from "./form-parts";

/**
 * The weighted rollout of a loop: start one (candidate, share, stickiness), or stop or complete
 * the running one. Buttons are shown to maintainers and admins; the server checks again.
 */
export function RolloutPanel({
  loopId,
  activeVersion,
  versions,
  rollout,
  canPromote,
  startAction,
  stopAction,
  completeAction,
}: {
  loopId: string;
  activeVersion: number | null;
  versions: number[];
  rollout: PromptRollout | null;
  canPromote: boolean;
  startAction: FormAction<{ rolloutId: string }>;
  stopAction: FormAction<{ stopped: true }>;
  completeAction: FormAction<{ toVersion: number }>;
}) {
  if (rollout) {
    return <RunningRollout loopId={loopId} activeVersion={activeVersion} rollout={rollout} canPromote={canPromote} stopAction={stopAction} completeAction={completeAction} />;
  }
  if (!canPromote) return <p className="text-sm text-zinc-500">No rollout is running. Maintainers and admins of the realm can start one.</p>;
  const candidates = versions.filter((v) => v !== activeVersion);
  if (candidates.length === 0) return <p className="text-sm text-zinc-500">No rollout is running. Create another version to roll it out beside the active one.</p>;
  return <StartRolloutForm loopId={loopId} candidates={candidates} action={startAction} />;
}

function RunningRollout({
  loopId,
  activeVersion,
  rollout,
  canPromote,
  stopAction,
  completeAction,
}: {
  loopId: string;
  activeVersion: number | null;
  rollout: PromptRollout;
  canPromote: boolean;
  stopAction: FormAction<{ stopped: true }>;
  completeAction: FormAction<{ toVersion: number }>;
}) {
  const [stopState, stop, isStopping] = useActionState(stopAction, null);
  const [completeState, complete, isCompleting] = useActionState(completeAction, null);
  const error = (stopState && !stopState.ok ? stopState.error : null) ?? (completeState && !completeState.ok ? completeState.error : null);
  return (
    <div className="space-y-3 text-sm">
      <p>
        <span className="font-medium">Version {rollout.candidateVersion}</span> runs for <span className="font-medium">{rollout.percent} %</span> of executions beside
        version {activeVersion ?? "—"}, sticky by <code className="font-mono text-xs">{rollout.stickyBy}</code>.
      </p>
      <p className="text-xs text-zinc-500">
        Started by {rollout.startedBy}, {formatTime(rollout.startedAt)}
      </p>
      {canPromote ? (
        <div className="flex flex-wrap gap-2">
          <form action={complete}>
            <input type="hidden" name="loopId" value={loopId} />
            <button type="submit" disabled={isCompleting || isStopping} className={buttonClass.primary}>
              {isCompleting ? "Completing…" : `Complete: promote v${rollout.candidateVersion}`}
            </button>
          </form>
          <form action={stop}>
            <input type="hidden" name="loopId" value={loopId} />
            <button type="submit" disabled={isCompleting || isStopping} className={buttonClass.secondary}>
              {isStopping ? "Stopping…" : "Stop rollout"}
            </button>
          </form>
        </div>
      ) : null}
      {error ? <ActionErrorNote id="rollout-error" error={error} /> : null}
    </div>
  );
}

function StartRolloutForm({ loopId, candidates, action }: { loopId: string; candidates: number[]; action: FormAction<{ rolloutId: string }> }) {
  const [state, formAction, isPending] = useActionState(action, null);
  const [stickiness, setStickiness] = useState<"caller" | "input">("caller");
  const [path, setPath] = useState("");
  const error = state && !state.ok ? state.error : null;
  return (
    <form action={formAction} className="space-y-3" aria-label="Start a rollout">
      <input type="hidden" name="loopId" value={loopId} />
      <input type="hidden" name="stickyBy" value={stickiness === "caller" ? "caller" : `input:${path.trim()}`} />
      <div className="grid gap-3 sm:grid-cols-2">
        <div>
          <label htmlFor="rollout-candidate" className={labelClass}>
            Candidate
          </label>
          <select id="rollout-candidate" name="candidateVersion" defaultValue={candidates[0]} className={`${inputClass} mt-1`}>
            {candidates.map((version) => (
              <option key={version} value={version}>
                v{version}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="rollout-percent" className={labelClass}>
            Share of executions (%)
          </label>
          <input id="rollout-percent" name="percent" type="number" min={1} max={99} step={0.01} defaultValue={10} required className={`${inputClass} mt-1`} />
        </div>
      </div>
      <fieldset>
        <legend className={labelClass}>Sticky by</legend>
        <div className="mt-1 flex flex-wrap items-center gap-4 text-sm">
          <label className="flex items-center gap-1.5">
            <input type="radio" name="stickiness" checked={stickiness === "caller"} onChange={() => setStickiness("caller")} /> caller
          </label>
          <label className="flex items-center gap-1.5">
            <input type="radio" name="stickiness" checked={stickiness === "input"} onChange={() => setStickiness("input")} /> input field
          </label>
          {stickiness === "input" ? (
            <input aria-label="Input path" value={path} onChange={(e) => setPath(e.target.value)} placeholder="patient.id" required className={`${inputClass} w-48 font-mono`} />
          ) : null}
        </div>
      </fieldset>
      {error ? <ActionErrorNote id="rollout-start-error" error={error} /> : null}
      {state?.ok ? <StatusNote>The rollout is running.</StatusNote> : null}
      <button type="submit" disabled={isPending} className={buttonClass.primary}>
        {isPending ? "Starting…" : "Start rollout"}
      </button>
    </form>
  );
}
