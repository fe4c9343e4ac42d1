/**
 * The one error type that crosses layers. Only adapters (route handlers, actions, the CLI)
 * turn a code into an HTTP status, a form error or an exit code.
 */
export type AppErrorCode =
  | "invalid_definition"
  | "invalid_input"
  | "invalid_request"
  | "not_found"
  | "unauthenticated"
  | "forbidden"
  | "conflict"
  | "payload_too_large"
  | "rate_limited"
  | "unavailable"
  | "internal";

export interface AppErrorIssue {
  path: string;
  message: string;
}

/** Marks an AppError whichever copy of this module made it (see `AppError[Symbol.hasInstance]`). */
const APP_ERROR = Symbol.for("loopstacks.AppError");

export class AppError extends Error {
  /**
   * The console's server code is bundled more than once (route handlers, server actions), and
   * each bundle has its own copy of this class, while the instance they share is built by
   * whichever comes first: an error is recognised by its mark, not by which copy made it.
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[APP_ERROR] === true;
  }

  readonly code: AppErrorCode;
  readonly issues: AppErrorIssue[];
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: AppErrorCode,
    message: string,
    options: { issues?: AppErrorIssue[]; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.issues = options.issues ?? [];
    this.details = options.details;
    Object.defineProperty(this, APP_ERROR, { value: true });
  }
}

export function isAppError(value: unknown, code?: AppErrorCode): value is AppError {
  return value instanceof AppError && (code === undefined || value.code === code);
}

/** Formats zod-style issues as `path: message` lines, `(root)` for the top level. */
export function formatIssues(issues: AppErrorIssue[]): string {
  return issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("\n");
}

/** What a text field may not hold: PostgreSQL stores no NUL character, in text or in jsonb. */
export const NUL_MESSAGE = "must not contain the NUL character (U+0000)";

/** Whether a string holds a character no text column can store. */
export function hasNul(text: string): boolean {
  return text.includes("\u0000");
}

/**
 * The database's refusal of a NUL character in text (22021) or in jsonb (22P05), found through
 * the query wrapper's causes, as the caller's invalid input; null for any other error. Fields
 * that can be checked beforehand are; this covers whatever text reaches the database unchecked.
 */
export function nulRefusal(error: unknown): AppError | null {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    const code = (cause as { code?: unknown }).code;
    if ((code === "22021" && /0x00/.test(cause.message)) || (code === "22P05" && /\\u0000/.test(cause.message + String((cause as { detail?: unknown }).detail ?? "")))) {
      return new AppError("invalid_input", `Text ${NUL_MESSAGE}`, { cause: error });
    }
  }
  return null;
}
