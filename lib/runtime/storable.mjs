// Plain JavaScript, so that the database threads (db/*-worker.mjs) run it as it is, with no
// build step, beside the application that imports it with its types (storable.d.mts).

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A string jsonb accepts: NUL becomes U+FFFD, as does a lone surrogate. */
function storableString(text) {
  return text.replaceAll("\u0000", "\uFFFD").replace(LONE_SURROGATE, "\uFFFD");
}

function storableCopy(value) {
  if (typeof value === "string") return storableString(value);
  if (Array.isArray(value)) return value.map(storableCopy);
  if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [storableString(key), storableCopy(item)]));
  }
  return value;
}

/** In JSON text: an escaped NUL, or an escaped surrogate (JSON.stringify escapes only lone ones). */
const UNSTORABLE_ESCAPE = /\\u(0000|d[89a-f][0-9a-f]{2})/i;

/** Whether JSON text holds a character jsonb refuses; text with no `\u` escape at all holds none. */
function isUnstorable(json) {
  return json !== undefined && json.includes("\\u") && UNSTORABLE_ESCAPE.test(json);
}

/**
 * JSON text PostgreSQL's jsonb accepts. jsonb holds neither the NUL character nor a lone UTF-16
 * surrogate, in values or in keys; a model, tool or HTTP server that sends one would otherwise
 * make every attempt to store it fail. Each is stored as U+FFFD, the replacement character.
 * Scanning the text is cheap; the copy is made only when needed.
 */
export function storableJson(value) {
  return toStorableJson(value).json;
}

/** `storableJson`, and whether anything had to be replaced. */
export function toStorableJson(value) {
  const json = JSON.stringify(value);
  return isUnstorable(json) ? { json: JSON.stringify(storableCopy(value)), replaced: true } : { json, replaced: false };
}

/** `value` as `storableJson` would store it: the same value when there is nothing to replace. */
export function storable(value) {
  return isUnstorable(JSON.stringify(value)) ? storableCopy(value) : value;
}
