"use client";

import { useActionState, useState } from "react";
import type { ActionResult } from "@/lib/server/action";
import { buttonClass, inputClass } from "../ui/styles";
import { DefinitionErrors } from "./definition-errors";

type RegisterAction = (previous: ActionResult<never> | null, formData: FormData) => Promise<ActionResult<never>>;

/** The whole definition as JSON or YAML; the server validates it and reports each problem at its path. */
export function RegisterLoopForm({ action, initialText, submitLabel }: { action: RegisterAction; initialText: string; submitLabel: string }) {
  const [state, formAction, isPending] = useActionState(action, null);
  const [text, setText] = useState(initialText);
  const error = state && !state.ok ? state.error : null;
  return (
    <form action={formAction} className="space-y-3" aria-label="Loop definition">
      <div>
        <label htmlFor="definition" className="block text-sm font-medium">
          Definition (JSON or YAML)
        </label>
        <textarea
          id="definition"
          name="definition"
          value={text}
          onChange={(event) => setText(event.target.value)}
          rows={24}
          spellCheck={false}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? "definition-errors" : undefined}
          className={`${inputClass} mt-1 font-mono text-xs leading-relaxed`}
        />
      </div>
      {error ? <DefinitionErrors id="definition-errors" error={error} /> : null}
      <button type="submit" disabled={isPending} className={buttonClass.primary}>
        {isPending ? "Saving…" : submitLabel}
      </button>
    </form>
  );
}
