const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A string jsonb accepts: NUL becomes U+FFFD, as does a lone surrogate. */
function storableString(text: string): string {
  return text.replaceAll("\u0000", "\uFFFD").replace(LONE_SURROGATE, "\uFFFD");
}

function storableCopy(value: unknown): unknown {
  if (typeof value === "string") return storableString(value);
  if (Array.isArray(value)) return value.map(storableCopy);
  if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [storableString(key), storableCopy(item)]));
  }
  return value;
}

/** In JSON text: an escaped NUL, or an escaped surrogate (JSON.stringify escapes only lone ones). */
const UNSTORABLE_ESCAPE = /\\u(0000|d[89a-f][0-9a-f]{2})/i;

/**
 * JSON text PostgreSQL's jsonb accepts. jsonb holds neither the NUL character nor a lone UTF-16
 * surrogate, in values or in keys; a model, tool or HTTP server that sends one would otherwise
 * make every attempt to store it fail. Each is stored as U+FFFD, the replacement character.
 * Scanning the text is cheap; the copy is made only when needed.
 */
export function storableJson(value: unknown): string {
  return toStorableJson(value).json;
}

/** `storableJson`, and whether anything had to be replaced. */
export function toStorableJson(value: unknown): { json: string; replaced: boolean } {
  const json = JSON.stringify(value);
  return json !== undefined && UNSTORABLE_ESCAPE.test(json) ? { json: JSON.stringify(storableCopy(value)), replaced: true } : { json, replaced: false };
}

/** `value` as `storableJson` would store it: the same value when there is nothing to replace. */
export function storable<T>(value: T): T {
  const json = JSON.stringify(value);
  return json !== undefined && UNSTORABLE_ESCAPE.test(json) ? (storableCopy(value) as T) : value;
}

