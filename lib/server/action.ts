import { unstable_rethrow } from "next/navigation";
import type { z } from "zod";
import { AppError, isAppError, nulRefusal, type AppErrorCode, type AppErrorIssue } from "../errors";
import type { Instance } from "../instance";
import type { Actor } from "../services/actor";
import { requireActor } from "./actor";
import { getInstance } from "./instance";

export interface ActionError {
  code: AppErrorCode;
  message: string;
  issues: AppErrorIssue[];
}

export type ActionResult<T> = { ok: true; data: T } | { ok: false; error: ActionError };

export interface ActionContext<Input> {
  actor: Actor;
  instance: Instance;
  input: Input;
}

/** Codes whose messages are written for the person who made the request. */
const EXPLAINED: ReadonlySet<AppErrorCode> = new Set([
  "invalid_definition",
  "invalid_input",
  "invalid_request",
  "not_found",
  "unauthenticated",
  "forbidden",
  "conflict",
  "payload_too_large",
  "rate_limited",
  // The directory out of reach (requireActor) or the executor stopping: both say what happened.
  "unavailable",
]);

/**
 * A server action for a form (`useActionState`): resolves the caller from the session,
 * parses the form with `schema`, runs `handler` and returns a minimal result. Server actions
 * are reachable by a direct POST, so nothing here trusts what the page rendered: the handler
 * calls a service that checks the caller's role again.
 */
export function createAction<Schema extends z.ZodType, T>(
  schema: Schema,
  handler: (context: ActionContext<z.output<Schema>>) => Promise<T>,
): (previous: ActionResult<T> | null, formData: FormData) => Promise<ActionResult<T>> {
  return async (_previous, formData) => {
    try {
      const actor = await requireActor();
      const parsed = schema.safeParse(formFields(formData));
      if (!parsed.success) {
        const issues = parsed.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message }));
        throw new AppError("invalid_input", issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("\n"), { issues });
      }
      const instance = await getInstance();
      return { ok: true, data: await handler({ actor, instance, input: parsed.data }) };
    } catch (error) {
      unstable_rethrow(error);
      return { ok: false, error: toActionError(error) };
    }
  };
}

export function toActionError(caught: unknown): ActionError {
  const error = nulRefusal(caught) ?? caught;
  if (isAppError(error) && EXPLAINED.has(error.code)) {
    return { code: error.code, message: error.message, issues: error.issues };
  }
  // Unexpected failures stay in the server log; their text may name internals.
  console.error("Server action failed:", error);
  return { code: "internal", message: "Something went wrong on the server. Try again; if it keeps failing, check the server log.", issues: [] };
}

/** Text fields of a form, without React's own `$ACTION_…` fields; files are ignored. */
function formFields(formData: FormData): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [key, value] of formData.entries()) {
    if (key.startsWith("$ACTION") || typeof value !== "string") continue;
    fields[key] = value;
  }
  return fields;
}
