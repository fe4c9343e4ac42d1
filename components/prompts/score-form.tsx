"use client";

import { useActionState, useId } from "react";
import { buttonClass, inputClass, labelClass } from "../ui/styles";
import type { FormAction } from "./form-parts";

export interface ScoreDone {
  value: number | null;
  label: string | null;
}

/**
 * Scores one frame: thumbs up (1) or down (0) in one click, or a number and/or a label with a
 * comment. The score attaches to the frame and so to the prompt version that produced it.
 */
export function ScoreForm({ frameId, action }: { frameId: string; action: FormAction<ScoreDone> }) {
  const [thumbState, thumbAction, isThumbPending] = useActionState(action, null);
  const [state, formAction, isPending] = useActionState(action, null);
  const id = useId();
  const latest = state ?? thumbState;
  const error = latest && !latest.ok ? latest.error : null;
  return (
    <div className="space-y-2">
      <div className="flex items-center gap-2">
        {[
          { value: 1, label: "thumbs up", text: "Thumbs up" },
          { value: 0, label: "thumbs down", text: "Thumbs down" },
        ].map((thumb) => (
          <form key={thumb.label} action={thumbAction}>
            <input type="hidden" name="frameId" value={frameId} />
            <input type="hidden" name="value" value={thumb.value} />
            <input type="hidden" name="label" value={thumb.label} />
            <button type="submit" disabled={isThumbPending} className={buttonClass.secondary} aria-label={thumb.label}>
              {thumb.text}
            </button>
          </form>
        ))}
      </div>
      <details>
        <summary className="cursor-pointer text-xs text-zinc-500">Score with a number, a label or a comment</summary>
        <form action={formAction} className="mt-2 grid gap-2 sm:grid-cols-2" aria-label="Score this frame">
          <input type="hidden" name="frameId" value={frameId} />
          <div>
            <label htmlFor={`${id}-value`} className={labelClass}>
              Value
            </label>
            <input id={`${id}-value`} name="value" type="number" step="any" className={`${inputClass} mt-1`} />
          </div>
          <div>
            <label htmlFor={`${id}-label`} className={labelClass}>
              Label
            </label>
            <input id={`${id}-label`} name="label" maxLength={100} className={`${inputClass} mt-1`} />
          </div>
          <div className="sm:col-span-2">
            <label htmlFor={`${id}-comment`} className={labelClass}>
              Comment
            </label>
            <textarea id={`${id}-comment`} name="comment" rows={2} maxLength={10000} className={`${inputClass} mt-1`} />
          </div>
          <button type="submit" disabled={isPending} className={`${buttonClass.secondary} sm:col-span-2 sm:justify-self-start`}>
            {isPending ? "Saving…" : "Save score"}
          </button>
        </form>
      </details>
      {error ? (
        <p role="alert" className="text-xs text-red-700 dark:text-red-300">
          {error.issues.length > 0 ? error.issues.map((i) => i.message).join("; ") : error.message}
        </p>
      ) : null}
      {latest?.ok ? (
        <p role="status" className="text-xs text-emerald-700 dark:text-emerald-400">
          Scored {[latest.data.value, latest.data.label].filter((part) => part !== null).join(" · ")}.
        </p>
      ) : null}
    </div>
  );
}
