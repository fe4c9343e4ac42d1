"use client";

import { useActionState, useId } from "react";
import { buttonClass, inputClass, labelClass } from "../ui/styles";
import { ActionErrorNote, type FormAction } from "./form-parts";

/**
 * Promote (a newer version) or Roll back (to an earlier one), with the reason the history and
 * the audit log keep. The server checks the caller's role again: the form only mirrors it.
 */
export function PromotionForm({ loopId, version, mode, action }: { loopId: string; version: number; mode: "promote" | "rollback"; action: FormAction<never> }) {
  const [state, formAction, isPending] = useActionState(action, null);
  const id = useId();
  const error = state && !state.ok ? state.error : null;
  const verb = mode === "promote" ? "Promote" : "Roll back";
  return (
    <form action={formAction} className="space-y-2" aria-label={`${verb} to version ${version}`}>
      <input type="hidden" name="loopId" value={loopId} />
      <input type="hidden" name="version" value={version} />
      <label htmlFor={`${id}-reason`} className={labelClass}>
        Why {mode === "promote" ? "promote" : "roll back to"} version {version}?
      </label>
      <input
        id={`${id}-reason`}
        name="reason"
        required
        maxLength={2000}
        placeholder={mode === "promote" ? "Higher scores on last week's replay" : "Answers became too long"}
        className={inputClass}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
      />
      <div className="flex items-center gap-3">
        <button type="submit" disabled={isPending} className={mode === "promote" ? buttonClass.primary : buttonClass.secondary}>
          {isPending ? `${verb}…` : verb}
        </button>
        <span className="text-xs text-zinc-500">Live for the next execution in every process.</span>
      </div>
      {error ? <ActionErrorNote id={`${id}-error`} error={error} /> : null}
    </form>
  );
}
