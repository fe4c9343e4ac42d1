"use client";

import { useActionState } from "react";
import type { ActionResult } from "@/lib/server/action";
import { buttonClass, inputClass, labelClass } from "../ui/styles";

type Action<T> = (previous: ActionResult<T> | null, formData: FormData) => Promise<ActionResult<T>>;

const ROLE_HELP: Record<string, string> = {
  viewer: "sees loops, runs and traces",
  operator: "also runs loops",
  maintainer: "also registers loops, edits prompts, promotes",
  auditor: "views and exports, never runs",
  admin: "everything, including these mappings and tokens",
};

function ErrorNote({ id, message }: { id: string; message: string }) {
  return (
    <p id={id} role="alert" className="rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-500/30 dark:bg-red-500/10 dark:text-red-200">
      {message}
    </p>
  );
}

/** Maps a group DN to a role in one of the realms the admin administers. */
export function AddMappingForm({ realms, roles, action }: { realms: string[]; roles: readonly string[]; action: Action<{ added: boolean; groupDn: string; role: string; realm: string }> }) {
  const [state, formAction, isPending] = useActionState(action, null);
  const error = state && !state.ok ? state.error : null;
  const done = state && state.ok ? state.data : null;
  return (
    <form action={formAction} className="grid gap-3 sm:grid-cols-[10rem_minmax(0,1fr)_10rem_auto] sm:items-end" aria-label="Add a mapping">
      <div>
        <label htmlFor="mapping-realm" className={labelClass}>
          Realm
        </label>
        <select id="mapping-realm" name="realm" className={`${inputClass} mt-1`} defaultValue={realms[0]}>
          {realms.map((realm) => (
            <option key={realm}>{realm}</option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="mapping-group" className={labelClass}>
          Group DN
        </label>
        <input id="mapping-group" name="groupDn" required placeholder="cn=payments-ops,ou=groups,dc=example,dc=org" className={`${inputClass} mt-1 font-mono`} aria-invalid={error ? true : undefined} aria-describedby={error ? "mapping-error" : undefined} />
      </div>
      <div>
        <label htmlFor="mapping-role" className={labelClass}>
          Role
        </label>
        <select id="mapping-role" name="role" className={`${inputClass} mt-1`} defaultValue="viewer">
          {roles.map((role) => (
            <option key={role} value={role} title={ROLE_HELP[role]}>
              {role}
            </option>
          ))}
        </select>
      </div>
      <button type="submit" disabled={isPending} className={buttonClass.primary}>
        {isPending ? "Adding…" : "Add mapping"}
      </button>
      <div className="sm:col-span-4">
        {error ? <ErrorNote id="mapping-error" message={error.issues.length > 0 ? error.issues.map((i) => `${i.path}: ${i.message}`).join("; ") : error.message} /> : null}
        {done ? (
          <p role="status" className="text-sm text-zinc-600 dark:text-zinc-400">
            {done.added ? "Mapped" : "Already mapped:"} <code className="font-mono">{done.groupDn}</code> → {done.role} in {done.realm}.
          </p>
        ) : null}
      </div>
    </form>
  );
}

export function RemoveMappingButton({ realm, groupDn, role, action }: { realm: string; groupDn: string; role: string; action: Action<{ removed: boolean }> }) {
  const [state, formAction, isPending] = useActionState(action, null);
  const error = state && !state.ok ? state.error : null;
  return (
    <form action={formAction} className="flex flex-col items-end gap-1">
      <input type="hidden" name="realm" value={realm} />
      <input type="hidden" name="groupDn" value={groupDn} />
      <input type="hidden" name="role" value={role} />
      <button type="submit" disabled={isPending} className={buttonClass.ghost} aria-label={`Remove ${role} mapping of ${groupDn} in ${realm}`}>
        {isPending ? "Removing…" : "Remove"}
      </button>
      {error ? <span role="alert" className="max-w-xs text-right text-xs text-red-700 dark:text-red-300">{error.message}</span> : null}
    </form>
  );
}
