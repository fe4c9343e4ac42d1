"use client";

import { useActionState, useState } from "react";
import { buttonClass, inputClass, labelClass } from "../ui/styles";
import { ActionErrorNote, type FormAction } from "./form-parts";

export interface PromptDraft {
  systemPrompt: string;
  model: string;
  maxTokens: number;
  temperature: number | null;
}

/** Writes a new prompt version with the model parameters that belong to it; it is not live until promoted. */
export function PromptEditor({ loopId, baseVersion, initial, action }: { loopId: string; baseVersion: number | null; initial: PromptDraft; action: FormAction<never> }) {
  const [state, formAction, isPending] = useActionState(action, null);
  // Controlled, so a refused submission keeps what was written.
  const [draft, setDraft] = useState({ ...initial, temperature: initial.temperature === null ? "" : String(initial.temperature), maxTokens: String(initial.maxTokens), message: "" });
  const error = state && !state.ok ? state.error : null;
  const set = (field: keyof typeof draft) => (event: { target: { value: string } }) => setDraft((d) => ({ ...d, [field]: event.target.value }));

  return (
    <form action={formAction} className="space-y-4" aria-label="New prompt version">
      <input type="hidden" name="loopId" value={loopId} />
      <div>
        <label htmlFor="prompt-system" className={labelClass}>
          System prompt {baseVersion !== null ? <span className="font-normal text-zinc-500">(starting from version {baseVersion})</span> : null}
        </label>
        <textarea id="prompt-system" name="systemPrompt" value={draft.systemPrompt} onChange={set("systemPrompt")} rows={16} spellCheck className={`${inputClass} mt-1 font-mono text-xs leading-relaxed`} />
      </div>
      <div className="grid gap-3 sm:grid-cols-3">
        <div>
          <label htmlFor="prompt-model" className={labelClass}>
            Model
          </label>
          <input id="prompt-model" name="model" required value={draft.model} onChange={set("model")} className={`${inputClass} mt-1 font-mono`} />
        </div>
        <div>
          <label htmlFor="prompt-max-tokens" className={labelClass}>
            Max tokens
          </label>
          <input id="prompt-max-tokens" name="maxTokens" type="number" min={1} max={128000} required value={draft.maxTokens} onChange={set("maxTokens")} className={`${inputClass} mt-1`} />
        </div>
        <div>
          <label htmlFor="prompt-temperature" className={labelClass}>
            Temperature <span className="font-normal text-zinc-500">(0–1, blank for the model default)</span>
          </label>
          <input id="prompt-temperature" name="temperature" type="number" min={0} max={1} step={0.05} value={draft.temperature} onChange={set("temperature")} className={`${inputClass} mt-1`} />
        </div>
      </div>
      <div>
        <label htmlFor="prompt-message" className={labelClass}>
          Message <span className="font-normal text-zinc-500">(what changed and why)</span>
        </label>
        <input id="prompt-message" name="message" maxLength={2000} value={draft.message} onChange={set("message")} className={`${inputClass} mt-1`} />
      </div>
      {error ? <ActionErrorNote id="prompt-error" error={error} /> : null}
      <button type="submit" disabled={isPending} className={buttonClass.primary}>
        {isPending ? "Saving…" : "Create version"}
      </button>
    </form>
  );
}
