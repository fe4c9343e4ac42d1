import { DispatchError } from "./retry";

export const REDACTED = "[redacted]";

/**
 * The forms in which a secret can come back: as sent (header values are trimmed) and
 * JSON-escaped inside a text response. Longest first, so a secret containing another is
 * replaced whole.
 */
function secretVariants(secrets: readonly string[]): string[] {
  const variants = new Set<string>();
  for (const secret of secrets) {
    for (const variant of [secret, secret.trim(), JSON.stringify(secret).slice(1, -1)]) {
      if (variant !== "") variants.add(variant);
    }
  }
  return [...variants].sort((a, b) => b.length - a.length);
}

/** Replaces every occurrence of a secret value in the strings (and keys) of a JSON value. */
export function redactSecrets<T>(value: T, secrets: readonly string[]): T {
  const needles = secretVariants(secrets);
  if (needles.length === 0) return value;
  const scrub = (item: unknown): unknown => {
    if (typeof item === "string") return needles.reduce((text, needle) => text.replaceAll(needle, REDACTED), item);
    if (Array.isArray(item)) return item.map(scrub);
    if (item !== null && typeof item === "object") {
      return Object.fromEntries(Object.entries(item).map(([key, entry]) => [scrub(key), scrub(entry)]));
    }
    return item;
  };
  return scrub(value) as T;
}

/** The same error with secret values scrubbed from its message and details. */
export function redactError(error: unknown, secrets: readonly string[]): unknown {
  if (!(error instanceof DispatchError) || secrets.length === 0) return error;
  const message = redactSecrets(error.message, secrets);
  const details = redactSecrets(error.details, secrets);
  if (message === error.message && JSON.stringify(details) === JSON.stringify(error.details)) return error;
  return new DispatchError(error.code, message, {
    retryable: error.retryable,
    ...(error.status !== undefined ? { status: error.status } : {}),
    ...(details !== undefined ? { details } : {}),
    ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
  });
}
