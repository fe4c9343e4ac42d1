"use client";

import { useActionState } from "react";
import type { LoopEvaluator } from "@/db/queries/prompts";
import { buttonClass, inputClass, labelClass } from "../ui/styles";
import { ActionErrorNote, type FormAction } from "./form-parts";

/** Evaluator loops that score a sample of this loop's executions; maintainers may change them. */
export function EvaluatorsPanel({
  loopId,
  evaluators,
  canEdit,
  setAction,
  removeAction,
}: {
  loopId: string;
  evaluators: LoopEvaluator[];
  canEdit: boolean;
  setAction: FormAction<{ evaluatorLoopId: string }>;
  removeAction: FormAction<{ removed: true }>;
}) {
  const [state, formAction, isPending] = useActionState(setAction, null);
  const error = state && !state.ok ? state.error : null;
  return (
    <div className="space-y-4 text-sm">
      {evaluators.length === 0 ? (
        <p className="text-zinc-500">No evaluator loop scores this loop.</p>
      ) : (
        <ul className="space-y-2" aria-label="Evaluators">
          {evaluators.map((evaluator) => (
            <li key={evaluator.id} className="flex items-center justify-between gap-3">
              <span>
                <span className="font-mono">{evaluator.evaluatorLoopId}</span> scores <span className="font-medium">{Math.round(evaluator.sampleRate * 1000) / 10} %</span> as{" "}
                <code className="text-xs">{evaluator.scoreName}</code>
              </span>
              {canEdit ? <RemoveEvaluatorButton loopId={loopId} evaluatorLoopId={evaluator.evaluatorLoopId} action={removeAction} /> : null}
            </li>
          ))}
        </ul>
      )}
      {canEdit ? (
        <form action={formAction} className="grid gap-2 sm:grid-cols-[minmax(0,1fr)_6rem_8rem_auto] sm:items-end" aria-label="Add an evaluator">
          <input type="hidden" name="loopId" value={loopId} />
          <div>
            <label htmlFor="evaluator-loop" className={labelClass}>
              Evaluator loop
            </label>
            <input id="evaluator-loop" name="evaluatorLoopId" required placeholder="answer-judge" className={`${inputClass} mt-1 font-mono`} />
          </div>
          <div>
            <label htmlFor="evaluator-rate" className={labelClass}>
              Sample (%)
            </label>
            <input id="evaluator-rate" name="samplePercent" type="number" min={0} max={100} step={0.1} defaultValue={10} required className={`${inputClass} mt-1`} />
          </div>
          <div>
            <label htmlFor="evaluator-name" className={labelClass}>
              Score name
            </label>
            <input id="evaluator-name" name="scoreName" defaultValue="quality" required className={`${inputClass} mt-1`} />
          </div>
          <button type="submit" disabled={isPending} className={buttonClass.secondary}>
            {isPending ? "Saving…" : "Save evaluator"}
          </button>
          <p className="text-xs text-zinc-500 sm:col-span-4">
            The evaluator receives <code>{"{ input, output, loopId, frameId, promptVersion }"}</code> and answers <code>{'{ "score": number, "label"?, "comment"? }'}</code> or a number.
            It runs as the caller of the evaluated run, who must be allowed to run it.
          </p>
          {error ? (
            <div className="sm:col-span-4">
              <ActionErrorNote id="evaluator-error" error={error} />
            </div>
          ) : null}
        </form>
      ) : null}
    </div>
  );
}

function RemoveEvaluatorButton({ loopId, evaluatorLoopId, action }: { loopId: string; evaluatorLoopId: string; action: FormAction<{ removed: true }> }) {
  const [state, formAction, isPending] = useActionState(action, null);
  return (
    <form action={formAction} className="flex items-center gap-2">
      <input type="hidden" name="loopId" value={loopId} />
      <input type="hidden" name="evaluatorLoopId" value={evaluatorLoopId} />
      {state && !state.ok ? (
        <span role="alert" className="text-xs text-red-700 dark:text-red-300">
          {state.error.message}
        </span>
      ) : null}
      <button type="submit" disabled={isPending} className={buttonClass.ghost} aria-label={`Remove evaluator ${evaluatorLoopId}`}>
        Remove
      </button>
    </form>
  );
}
