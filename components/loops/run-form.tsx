"use client";

import { useActionState, useId, useMemo, useState, useSyncExternalStore } from "react";
import type { ActionResult } from "@/lib/server/action";
import { buttonClass, inputClass, labelClass } from "../ui/styles";
import { buildSchemaForm, enumOptionValue, fieldDisplay, parseInputObject, writeField, type SchemaField } from "./schema-form";

type RunAction = (previous: ActionResult<never> | null, formData: FormData) => Promise<ActionResult<never>>;

/**
 * Runs a loop with a JSON input. When the input schema has simple top-level properties, fields
 * for them sit above the JSON and rewrite it as they change; the JSON is what is submitted.
 * The button is disabled for people who may not run the loop; the action checks again on the
 * server, since anyone can post to it.
 */
export function RunForm({
  loopId,
  sampleInput,
  inputSchema,
  canRun,
  realm,
  action,
}: {
  loopId: string;
  sampleInput: unknown;
  inputSchema?: unknown;
  canRun: boolean;
  realm: string;
  action: RunAction;
}) {
  const [state, formAction, isPending] = useActionState(action, null);
  // Controlled, so the text survives a refused submission (React resets uncontrolled forms).
  const [input, setInput] = useState(() => JSON.stringify(sampleInput ?? {}, null, 2));
  const schemaForm = useMemo(() => buildSchemaForm(inputSchema), [inputSchema]);
  const error = state && !state.ok ? state.error : null;
  // Until the page is interactive the input is read-only: text typed before then would be lost
  // (or mangled) when the form takes over.
  const isInteractive = useSyncExternalStore(subscribeToNothing, () => true, () => false);

  return (
    <form action={formAction} className="space-y-3" aria-label={`Run ${loopId}`}>
      <input type="hidden" name="loopId" value={loopId} />
      {schemaForm ? <InputFields fields={schemaForm.fields} unsupported={schemaForm.unsupported} input={input} onInput={setInput} isInteractive={isInteractive} /> : null}
      <div>
        <label htmlFor="run-input" className="block text-sm font-medium">
          Input (JSON)
        </label>
        <textarea
          id="run-input"
          name="input"
          value={input}
          onChange={(event) => setInput(event.target.value)}
          readOnly={!isInteractive}
          rows={8}
          spellCheck={false}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? "run-error" : "run-help"}
          className={`${inputClass} mt-1 font-mono text-xs`}
        />
        <p id="run-help" className="mt-1 text-xs text-zinc-500">
          Up to 1 MB. The run starts at once and its trace fills in live.
        </p>
      </div>
      {error ? (
        <div id="run-error" role="alert" className="rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-500/30 dark:bg-red-500/10 dark:text-red-200">
          <p className="whitespace-pre-wrap">{error.message}</p>
        </div>
      ) : null}
      <div className="flex flex-wrap items-center gap-3">
        <button type="submit" disabled={!canRun || isPending || !isInteractive} className={buttonClass.primary}>
          {isPending ? "Starting…" : "Run"}
        </button>
        {!canRun ? (
          <p className="text-xs text-zinc-500">Running loops in realm {realm} needs the operator, maintainer or admin role.</p>
        ) : null}
      </div>
    </form>
  );
}

/**
 * Fields for the input's simple properties. They have no `name`, so only the JSON is posted,
 * and they mark required properties with `aria-required` rather than `required`, so the
 * browser does not block a submission that the server would explain better.
 */
function InputFields({
  fields,
  unsupported,
  input,
  onInput,
  isInteractive,
}: {
  fields: SchemaField[];
  unsupported: string[];
  input: string;
  onInput: (text: string) => void;
  isInteractive: boolean;
}) {
  const idPrefix = useId();
  // What was last typed into number fields, so a half-typed "1." is not rewritten as "1".
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const parsed = parseInputObject(input);
  // Read-only until the page is interactive, like the JSON input.
  const isDisabled = parsed === null || !isInteractive;

  const change = (field: SchemaField, raw: string | boolean) => {
    if (!parsed) return;
    if (typeof raw === "string") setDrafts((previous) => ({ ...previous, [field.name]: raw }));
    onInput(writeField(parsed, field, raw));
  };

  return (
    <fieldset className="space-y-3 rounded-md border border-zinc-200 p-3 dark:border-zinc-800" aria-describedby={`${idPrefix}-note`}>
      <legend className="px-1 text-sm font-medium">Input fields</legend>
      <div className="grid gap-3 sm:grid-cols-2">
        {fields.map((field, index) => {
          const id = `${idPrefix}-${index}`;
          const helpId = field.description ? `${id}-help` : undefined;
          const value = fieldDisplay(field, parsed?.[field.name], drafts[field.name]);
          const label = (
            <>
              {field.label}
              {field.required ? (
                <span aria-hidden="true" className="ml-0.5 text-red-600 dark:text-red-400">
                  *
                </span>
              ) : null}
            </>
          );
          const help = field.description ? (
            <p id={helpId} className="mt-1 text-xs text-zinc-500">
              {field.description}
            </p>
          ) : null;
          if (field.kind === "boolean") {
            return (
              <div key={field.name} className="self-end">
                <label htmlFor={id} className="flex items-center gap-2 text-sm">
                  <input
                    id={id}
                    type="checkbox"
                    checked={value === true}
                    disabled={isDisabled}
                    aria-required={field.required || undefined}
                    aria-describedby={helpId}
                    onChange={(event) => change(field, event.target.checked)}
                  />
                  {label}
                </label>
                {help}
              </div>
            );
          }
          return (
            <div key={field.name}>
              <label htmlFor={id} className={labelClass}>
                {label}
              </label>
              {field.kind === "enum" ? (
                <select
                  id={id}
                  value={String(value)}
                  disabled={isDisabled}
                  aria-required={field.required || undefined}
                  aria-describedby={helpId}
                  onChange={(event) => change(field, event.target.value)}
                  className={`${inputClass} mt-1`}
                >
                  <option value="">{field.required ? "Choose…" : "(not set)"}</option>
                  {field.options.map((option) => (
                    <option key={enumOptionValue(option)} value={enumOptionValue(option)}>
                      {String(option)}
                    </option>
                  ))}
                </select>
              ) : (
                <input
                  id={id}
                  type="text"
                  inputMode={field.kind === "integer" ? "numeric" : field.kind === "number" ? "decimal" : undefined}
                  value={String(value)}
                  disabled={isDisabled}
                  aria-required={field.required || undefined}
                  aria-describedby={helpId}
                  onChange={(event) => change(field, event.target.value)}
                  className={`${inputClass} mt-1`}
                />
              )}
              {help}
            </div>
          );
        })}
      </div>
      <p id={`${idPrefix}-note`} className="text-xs text-zinc-500">
        {parsed === null
          ? "The JSON below is not an object; correct it to use these fields again."
          : `Fields rewrite the JSON below.${unsupported.length > 0 ? ` Edit ${unsupported.join(", ")} in the JSON.` : ""}`}
      </p>
    </fieldset>
  );
}

/** For `useSyncExternalStore`: nothing changes after the page becomes interactive. */
function subscribeToNothing(): () => void {
  return () => {};
}
