"use client";

import { useActionState, useState } from "react";
import type { ActionResult } from "@/lib/server/action";
import { buttonClass, inputClass, labelClass } from "../ui/styles";

type Action<T> = (previous: ActionResult<T> | null, formData: FormData) => Promise<ActionResult<T>>;

interface CreatedToken {
  token: string;
  name: string;
  realm: string;
  role: string;
}

function CreatedTokenNote({ created }: { created: CreatedToken }) {
  const [copied, setCopied] = useState(false);
  return (
    <div role="status" className="space-y-2 rounded-md border border-emerald-300 bg-emerald-50 p-3 text-sm text-emerald-900 dark:border-emerald-500/30 dark:bg-emerald-500/10 dark:text-emerald-200">
      <p>
        <strong className="font-semibold">Copy this token now — it is not shown again.</strong> {created.name}: {created.role} in {created.realm}.
      </p>
      <div className="flex items-center gap-2">
        <code className="block flex-1 overflow-x-auto rounded bg-white px-2 py-1 font-mono text-xs text-zinc-900 dark:bg-zinc-950 dark:text-zinc-100" data-testid="new-token">
          {created.token}
        </code>
        <button
          type="button"
          className={buttonClass.secondary}
          onClick={() => {
            void navigator.clipboard?.writeText(created.token).then(() => setCopied(true));
          }}
        >
          {copied ? "Copied" : "Copy"}
        </button>
      </div>
      <p className="text-xs">
        Use it as <code className="font-mono">Authorization: Bearer {created.token.slice(0, 10)}…</code> against <code className="font-mono">/api/v1</code>.
      </p>
    </div>
  );
}

export function CreateTokenForm({ realms, roles, action }: { realms: string[]; roles: readonly string[]; action: Action<CreatedToken> }) {
  const [state, formAction, isPending] = useActionState(action, null);
  const error = state && !state.ok ? state.error : null;
  return (
    <div className="space-y-3">
      <form action={formAction} className="grid gap-3 sm:grid-cols-[minmax(0,1fr)_10rem_10rem_8rem_auto] sm:items-end" aria-label="Create a service token">
        <div>
          <label htmlFor="token-name" className={labelClass}>
            Service name
          </label>
          <input id="token-name" name="name" required maxLength={100} placeholder="billing-backend" className={`${inputClass} mt-1`} />
        </div>
        <div>
          <label htmlFor="token-realm" className={labelClass}>
            Realm
          </label>
          <select id="token-realm" name="realm" defaultValue={realms[0]} className={`${inputClass} mt-1`}>
            {realms.map((realm) => (
              <option key={realm}>{realm}</option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="token-role" className={labelClass}>
            Role
          </label>
          <select id="token-role" name="role" defaultValue="operator" className={`${inputClass} mt-1`}>
            {roles.map((role) => (
              <option key={role}>{role}</option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="token-expiry" className={labelClass}>
            Expires in (days)
          </label>
          <input id="token-expiry" name="expiresInDays" type="number" min={1} max={3650} placeholder="never" className={`${inputClass} mt-1`} />
        </div>
        <button type="submit" disabled={isPending} className={buttonClass.primary}>
          {isPending ? "Creating…" : "Create token"}
        </button>
      </form>
      {error ? (
        <p role="alert" className="rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-500/30 dark:bg-red-500/10 dark:text-red-200">
          {error.issues.length > 0 ? error.issues.map((i) => `${i.path}: ${i.message}`).join("; ") : error.message}
        </p>
      ) : null}
      {state && state.ok ? <CreatedTokenNote created={state.data} /> : null}
    </div>
  );
}

export function RevokeTokenButton({ id, name, action }: { id: string; name: string; action: Action<{ revoked: boolean }> }) {
  const [state, formAction, isPending] = useActionState(action, null);
  const error = state && !state.ok ? state.error : null;
  return (
    <form
      action={formAction}
      onSubmit={(event) => {
        if (!window.confirm(`Revoke the token "${name}"? Services using it stop working at once.`)) event.preventDefault();
      }}
      className="flex flex-col items-end gap-1"
    >
      <input type="hidden" name="id" value={id} />
      <button type="submit" disabled={isPending} className={buttonClass.ghost} aria-label={`Revoke token ${name}`}>
        {isPending ? "Revoking…" : "Revoke"}
      </button>
      {error ? <span role="alert" className="text-xs text-red-700 dark:text-red-300">{error.message}</span> : null}
    </form>
  );
}
