"use client";

import { useActionState } from "react";
import type { FormAction } from "../prompts/form-parts";
import { buttonClass } from "../ui/styles";

/** Stops a running run and every frame under it; the run page then shows it as cancelled. */
export function CancelRunButton({ runId, action }: { runId: string; action: FormAction<{ runId: string; status: "cancelling" }> }) {
  const [state, formAction, isPending] = useActionState(action, null);
  return (
    <form action={formAction} className="flex items-center gap-2">
      <input type="hidden" name="runId" value={runId} />
      <button type="submit" disabled={isPending || state?.ok === true} className={buttonClass.secondary}>
        {state?.ok ? "Cancelling…" : "Cancel run"}
      </button>
      {state && !state.ok ? (
        <span role="alert" className="text-xs text-red-700 dark:text-red-300">
          {state.error.message}
        </span>
      ) : null}
    </form>
  );
}
