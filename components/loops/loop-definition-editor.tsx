"use client";

import { useActionState, useId, useState, type ReactNode } from "react";
import type { ActionResult } from "@/lib/server/action";
import { buttonClass, inputClass, labelClass } from "../ui/styles";
import {
  buildDefinition,
  emptyToolRow,
  formValuesFromDefinition,
  HTTP_METHODS,
  LOOP_TYPES,
  type DefinitionFormValues,
  type ToolRow,
} from "./definition-form";
import { RegisterLoopForm } from "./register-loop-form";
import { DefinitionErrors } from "./definition-errors";

type RegisterAction = (previous: ActionResult<never> | null, formData: FormData) => Promise<ActionResult<never>>;

export interface LoopOption {
  id: string;
  realm: string;
}

const TYPE_LABELS: Record<(typeof LOOP_TYPES)[number], string> = { llm: "LLM", mcp: "MCP tool", http: "HTTP request" };

/**
 * The definition editor with two tabs: the whole definition as JSON or YAML, and a form with
 * fields per loop type. Both post to the same action, so they share validation and errors.
 * The tabs keep their own drafts; both stay mounted so switching loses nothing.
 */
export function LoopDefinitionEditor({
  action,
  initialText,
  initialDefinition,
  base,
  realms,
  loops,
  submitLabel,
}: {
  action: RegisterAction;
  initialText: string;
  /** What the form starts from: the definition being edited, or the template. */
  initialDefinition: unknown;
  /** The definition being edited, whose fields the form does not show are kept. */
  base?: unknown;
  realms: string[];
  loops: LoopOption[];
  submitLabel: string;
}) {
  const [tab, setTab] = useState<"text" | "form">("text");
  const id = useId();
  const tabs = [
    { key: "text", label: "JSON / YAML" },
    { key: "form", label: "Form" },
  ] as const;
  return (
    <div>
      <div role="tablist" aria-label="Editor" className="mb-4 flex gap-1 border-b border-zinc-200 dark:border-zinc-800">
        {tabs.map((t) => (
          <button
            key={t.key}
            type="button"
            role="tab"
            id={`${id}-tab-${t.key}`}
            aria-selected={tab === t.key}
            aria-controls={`${id}-panel-${t.key}`}
            onClick={() => setTab(t.key)}
            className={`-mb-px border-b-2 px-3 py-2 text-sm font-medium ${
              tab === t.key ? "border-indigo-600 text-indigo-700 dark:text-indigo-300" : "border-transparent text-zinc-500 hover:text-zinc-800 dark:hover:text-zinc-200"
            }`}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`${id}-panel-text`} aria-labelledby={`${id}-tab-text`} hidden={tab !== "text"}>
        <RegisterLoopForm action={action} initialText={initialText} submitLabel={submitLabel} />
      </div>
      <div role="tabpanel" id={`${id}-panel-form`} aria-labelledby={`${id}-tab-form`} hidden={tab !== "form"}>
        <DefinitionForm action={action} initialDefinition={initialDefinition} base={base} realms={realms} loops={loops} submitLabel={submitLabel} />
      </div>
    </div>
  );
}

function Field({ id, label, hint, children }: { id: string; label: string; hint?: string; children: ReactNode }) {
  return (
    <div>
      <label htmlFor={id} className={labelClass}>
        {label}
      </label>
      <div className="mt-1">{children}</div>
      {hint ? <p className="mt-1 text-xs text-zinc-500">{hint}</p> : null}
    </div>
  );
}

function DefinitionForm({
  action,
  initialDefinition,
  base,
  realms,
  loops,
  submitLabel,
}: {
  action: RegisterAction;
  initialDefinition: unknown;
  base?: unknown;
  realms: string[];
  loops: LoopOption[];
  submitLabel: string;
}) {
  const [state, formAction, isPending] = useActionState(action, null);
  const [values, setValues] = useState<DefinitionFormValues>(() => formValuesFromDefinition(initialDefinition, realms[0] ?? ""));
  const id = useId();
  const isEditing = base !== undefined;
  const error = state && !state.ok ? state.error : null;
  const f = (name: string) => `${id}-${name}`;

  const set = <K extends keyof DefinitionFormValues>(key: K, value: DefinitionFormValues[K]) => setValues((v) => ({ ...v, [key]: value }));
  const setLlm = (patch: Partial<DefinitionFormValues["llm"]>) => setValues((v) => ({ ...v, llm: { ...v.llm, ...patch } }));
  const setMcp = (patch: Partial<DefinitionFormValues["mcp"]>) => setValues((v) => ({ ...v, mcp: { ...v.mcp, ...patch } }));
  const setHttp = (patch: Partial<DefinitionFormValues["http"]>) => setValues((v) => ({ ...v, http: { ...v.http, ...patch } }));
  const setTool = (index: number, patch: Partial<ToolRow>) => setLlm({ tools: values.llm.tools.map((row, i) => (i === index ? { ...row, ...patch } : row)) });

  // A realm the actor can no longer edit still shows, so editing an old loop does not silently move it.
  const realmOptions = realms.includes(values.realm) || !values.realm ? realms : [values.realm, ...realms];

  return (
    <form action={formAction} className="space-y-5" aria-label="Loop definition form">
      <input type="hidden" name="definition" value={JSON.stringify(buildDefinition(values, base))} />
      <div className="grid gap-4 sm:grid-cols-3">
        <Field id={f("id")} label="Loop id" hint={isEditing ? "A loop keeps its id." : "Lower-case letters, digits, '.', '_' or '-'."}>
          <input id={f("id")} value={values.id} readOnly={isEditing} onChange={(e) => set("id", e.target.value)} className={`${inputClass} font-mono`} spellCheck={false} />
        </Field>
        <Field id={f("realm")} label="Realm" hint={isEditing ? "A loop stays in its realm." : undefined}>
          <select id={f("realm")} value={values.realm} disabled={isEditing} onChange={(e) => set("realm", e.target.value)} className={inputClass}>
            {realmOptions.map((realm) => (
              <option key={realm} value={realm}>
                {realm}
              </option>
            ))}
          </select>
        </Field>
        <Field id={f("type")} label="Type">
          <select id={f("type")} value={values.type} onChange={(e) => set("type", e.target.value as DefinitionFormValues["type"])} className={inputClass}>
            {LOOP_TYPES.map((type) => (
              <option key={type} value={type}>
                {TYPE_LABELS[type]}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <Field id={f("description")} label="Description">
        <input id={f("description")} value={values.description} onChange={(e) => set("description", e.target.value)} className={inputClass} />
      </Field>

      {values.type === "llm" ? (
        <fieldset className="space-y-4">
          <legend className="mb-2 text-sm font-semibold">LLM</legend>
          <div className="grid gap-4 sm:grid-cols-4">
            <div className="sm:col-span-4">
              <Field id={f("model")} label="Model">
                <input id={f("model")} value={values.llm.model} onChange={(e) => setLlm({ model: e.target.value })} className={`${inputClass} font-mono`} spellCheck={false} />
              </Field>
            </div>
            <Field id={f("max-tokens")} label="Max tokens" hint="Empty: 1024">
              <input id={f("max-tokens")} inputMode="numeric" value={values.llm.maxTokens} onChange={(e) => setLlm({ maxTokens: e.target.value })} className={inputClass} />
            </Field>
            <Field id={f("temperature")} label="Temperature" hint="0 to 1; empty: the model's default">
              <input id={f("temperature")} inputMode="decimal" value={values.llm.temperature} onChange={(e) => setLlm({ temperature: e.target.value })} className={inputClass} />
            </Field>
            <Field id={f("max-turns")} label="Max turns" hint="Empty: 8">
              <input id={f("max-turns")} inputMode="numeric" value={values.llm.maxTurns} onChange={(e) => setLlm({ maxTurns: e.target.value })} className={inputClass} />
            </Field>
          </div>
          <Field id={f("system-prompt")} label="System prompt" hint={isEditing ? "A changed prompt becomes a new prompt version and is activated." : undefined}>
            <textarea id={f("system-prompt")} rows={8} value={values.llm.systemPrompt} onChange={(e) => setLlm({ systemPrompt: e.target.value })} className={`${inputClass} text-sm`} />
          </Field>
          <fieldset>
            <legend className="text-sm font-medium">Tools</legend>
            <p className="mb-2 text-xs text-zinc-500">Each tool calls another loop as a child frame. MCP tools are edited in JSON / YAML and kept as they are.</p>
            {values.llm.tools.length === 0 ? <p className="mb-2 text-sm text-zinc-500">No tools.</p> : null}
            <ul className="space-y-3">
              {values.llm.tools.map((row, index) => (
                <li key={index} className="grid items-end gap-3 rounded-md border border-zinc-200 p-3 sm:grid-cols-[1fr_1fr_1.5fr_auto] dark:border-zinc-800">
                  <Field id={f(`tool-${index}-name`)} label={`Tool ${index + 1} name`}>
                    <input id={f(`tool-${index}-name`)} value={row.name} onChange={(e) => setTool(index, { name: e.target.value })} className={`${inputClass} font-mono`} spellCheck={false} />
                  </Field>
                  <Field id={f(`tool-${index}-loop`)} label={`Tool ${index + 1} loop`}>
                    <select id={f(`tool-${index}-loop`)} value={row.loopRef} onChange={(e) => setTool(index, { loopRef: e.target.value })} className={inputClass}>
                      <option value="">Choose a loop…</option>
                      {row.loopRef && !loops.some((loop) => loop.id === row.loopRef) ? <option value={row.loopRef}>{row.loopRef} (not visible to you)</option> : null}
                      {loops.map((loop) => (
                        <option key={loop.id} value={loop.id}>
                          {loop.id} ({loop.realm})
                        </option>
                      ))}
                    </select>
                  </Field>
                  <Field id={f(`tool-${index}-description`)} label={`Tool ${index + 1} description`}>
                    <input id={f(`tool-${index}-description`)} value={row.description} onChange={(e) => setTool(index, { description: e.target.value })} className={inputClass} />
                  </Field>
                  <button type="button" onClick={() => setLlm({ tools: values.llm.tools.filter((_, i) => i !== index) })} className={buttonClass.secondary}>
                    Remove tool {index + 1}
                  </button>
                </li>
              ))}
            </ul>
            <button type="button" onClick={() => setLlm({ tools: [...values.llm.tools, emptyToolRow()] })} className={`${buttonClass.secondary} mt-3`}>
              Add tool
            </button>
          </fieldset>
        </fieldset>
      ) : null}

      {values.type === "mcp" ? (
        <fieldset className="space-y-4">
          <legend className="mb-2 text-sm font-semibold">MCP tool</legend>
          <div className="grid gap-4 sm:grid-cols-2">
            <Field id={f("transport")} label="Transport">
              <select id={f("transport")} value={values.mcp.transport} onChange={(e) => setMcp({ transport: e.target.value === "http" ? "http" : "stdio" })} className={inputClass}>
                <option value="stdio">stdio (a command)</option>
                <option value="http">HTTP (a URL)</option>
              </select>
            </Field>
            <Field id={f("tool")} label="Tool">
              <input id={f("tool")} value={values.mcp.tool} onChange={(e) => setMcp({ tool: e.target.value })} className={`${inputClass} font-mono`} spellCheck={false} />
            </Field>
          </div>
          {values.mcp.transport === "stdio" ? (
            <div className="grid gap-4 sm:grid-cols-2">
              <Field id={f("command")} label="Command">
                <input id={f("command")} value={values.mcp.command} onChange={(e) => setMcp({ command: e.target.value })} className={`${inputClass} font-mono`} spellCheck={false} />
              </Field>
              <Field id={f("args")} label="Arguments" hint="One per line.">
                <textarea id={f("args")} rows={3} value={values.mcp.args} onChange={(e) => setMcp({ args: e.target.value })} className={`${inputClass} font-mono text-xs`} spellCheck={false} />
              </Field>
            </div>
          ) : (
            <Field id={f("server-url")} label="Server URL">
              <input id={f("server-url")} type="url" value={values.mcp.url} onChange={(e) => setMcp({ url: e.target.value })} className={`${inputClass} font-mono`} spellCheck={false} />
            </Field>
          )}
        </fieldset>
      ) : null}

      {values.type === "http" ? (
        <fieldset className="space-y-4">
          <legend className="mb-2 text-sm font-semibold">HTTP request</legend>
          <div className="grid gap-4 sm:grid-cols-[8rem_1fr_10rem]">
            <Field id={f("method")} label="Method">
              <select id={f("method")} value={values.http.method} onChange={(e) => setHttp({ method: e.target.value })} className={inputClass}>
                {HTTP_METHODS.map((method) => (
                  <option key={method} value={method}>
                    {method}
                  </option>
                ))}
              </select>
            </Field>
            <Field id={f("url")} label="URL template" hint="{{input.x}} is filled from the input.">
              <input id={f("url")} value={values.http.url} onChange={(e) => setHttp({ url: e.target.value })} className={`${inputClass} font-mono`} spellCheck={false} />
            </Field>
            <Field id={f("timeout")} label="Timeout (ms)" hint="Empty: 30000">
              <input id={f("timeout")} inputMode="numeric" value={values.http.timeoutMs} onChange={(e) => setHttp({ timeoutMs: e.target.value })} className={inputClass} />
            </Field>
          </div>
        </fieldset>
      ) : null}

      {error ? <DefinitionErrors error={error} /> : null}
      <p className="text-xs text-zinc-500">
        {isEditing ? "Input schema, retry, limits and other settings not shown here are kept from the current definition." : "Add an input schema, retry or limits in JSON / YAML."}
      </p>
      <button type="submit" disabled={isPending} className={buttonClass.primary}>
        {isPending ? "Saving…" : submitLabel}
      </button>
    </form>
  );
}
