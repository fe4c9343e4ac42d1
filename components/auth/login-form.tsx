"use client";

import { useActionState } from "react";
import type { LoginState } from "@/app/login/actions";
import { buttonClass, inputClass } from "../ui/styles";

type LoginAction = (previous: LoginState, formData: FormData) => Promise<LoginState>;

export function LoginForm({ action, next }: { action: LoginAction; next: string | undefined }) {
  const [state, formAction, isPending] = useActionState(action, { error: null });
  return (
    <form action={formAction} className="space-y-4" aria-label="Sign in">
      {next ? <input type="hidden" name="next" value={next} /> : null}
      <div>
        <label htmlFor="username" className="block text-sm font-medium">
          Username
        </label>
        <input id="username" name="username" autoComplete="username" required autoFocus className={`${inputClass} mt-1`} />
      </div>
      <div>
        <label htmlFor="password" className="block text-sm font-medium">
          Password
        </label>
        <input id="password" name="password" type="password" autoComplete="current-password" required className={`${inputClass} mt-1`} />
      </div>
      {state.error ? (
        <p role="alert" className="rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-500/30 dark:bg-red-500/10 dark:text-red-200">
          {state.error}
        </p>
      ) : null}
      <button type="submit" disabled={isPending} className={`${buttonClass.primary} w-full`}>
        {isPending ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}
