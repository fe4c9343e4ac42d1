import { DispatchError } from "./retry";

/**
 * Placeholders are `{{input}}`, `{{input.a.b}}` or `{{ input.items[0].name }}`. Anything else
 * between double braces is left as written, so literal `{{…}}` text in a body survives.
 */
const PLACEHOLDER = /\{\{\s*(input\b[^{}]*?)\s*\}\}/g;
const WHOLE_PLACEHOLDER = /^\{\{\s*(input\b[^{}]*?)\s*\}\}$/;

/** Segments that would reach an object's prototype instead of its own data. */
const FORBIDDEN_SEGMENTS = new Set(["__proto__", "constructor", "prototype"]);

const SEGMENT = /^(?:(\.)?([^.[\]\s]+)|\[(\d+)\])/;

type PathSegment = string | number;

/**
 * Reads `a.b[0].c` from a JSON value, following own properties only. Returns `undefined`
 * when any step is missing; throws `invalid_path` for malformed or prototype-reaching paths.
 * An empty path returns the value itself.
 */
export function getPath(value: unknown, path: string): unknown {
  let current = value;
  for (const segment of parsePath(path)) {
    current = step(current, segment);
    if (current === undefined) return undefined;
  }
  return current;
}

/** A URL template's scheme and authority: what must be written out, since it chooses the server. */
const URL_TEMPLATE_ORIGIN = /^https?:\/\/[^/?#]*/i;

/**
 * Why a URL template cannot be used, or null: it must start with `http://` or `https://`, and
 * its placeholders must come after the host and port (in the path, query or fragment). A
 * placeholder in the host would let a run's input choose the server, and with it where the
 * loop's secret headers go (`https://api.example.com{{input.x}}` with `.attacker.example`).
 */
export function urlTemplateProblem(template: string): string | null {
  const origin = URL_TEMPLATE_ORIGIN.exec(template)?.[0];
  if (origin === undefined) return "must start with http:// or https://";
  if (origin.includes("{{")) return "placeholders may only be in the path, query or fragment: the scheme, host and port are written out, so no input chooses the server";
  return null;
}

/**
 * Fills a URL template from the input. Each value is URL-encoded (objects as JSON), and the
 * result must be an absolute http: or https: URL on the server the template names.
 */
export function renderUrl(template: string, input: unknown): URL {
  // Checked when a loop is registered; again here for one stored before the check existed.
  const problem = urlTemplateProblem(template);
  if (problem) throw new DispatchError("invalid_url", `The URL template ${problem}`);
  const rendered = template.replace(PLACEHOLDER, (_match, expression: string) =>
    encodeURIComponent(stringify(resolvePlaceholder(expression, input))),
  );
  let url: URL;
  try {
    url = new URL(rendered);
  } catch {
    throw new DispatchError("invalid_url", "The URL template does not render to a valid absolute URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new DispatchError("invalid_url", `The URL must use http: or https:, not ${url.protocol}`);
  }
  return url;
}

/**
 * Fills placeholders in a string; every value is stringified (strings as they are, anything
 * else as JSON). Suits header values, which are always text.
 */
export function renderString(template: string, input: unknown): string {
  return template.replace(PLACEHOLDER, (_match, expression: string) => stringify(resolvePlaceholder(expression, input)));
}

/**
 * Deep-maps a JSON template. A string that is exactly one placeholder becomes the raw value,
 * so numbers, booleans and objects keep their type; placeholders inside longer strings are
 * stringified. Object keys are never templated.
 */
export function renderJson(value: unknown, input: unknown): unknown {
  if (typeof value === "string") {
    const whole = WHOLE_PLACEHOLDER.exec(value);
    if (whole?.[1] !== undefined) return resolvePlaceholder(whole[1], input);
    return renderString(value, input);
  }
  if (Array.isArray(value)) return value.map((item) => renderJson(item, input));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderJson(item, input)]));
  }
  return value;
}

function resolvePlaceholder(expression: string, input: unknown): unknown {
  const rest = expression.slice("input".length);
  const path = rest.startsWith(".") ? rest.slice(1) : rest;
  if (rest.startsWith(".") && path === "") throw invalidPath(expression, "a property name is expected after '.'");
  const value = getPath(input, path);
  if (value === undefined) {
    throw new DispatchError("template_missing_value", `Template placeholder {{${expression}}} has no value: ${expression} is missing from the input`);
  }
  return value;
}

function stringify(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function parsePath(path: string): PathSegment[] {
  const segments: PathSegment[] = [];
  let rest = path;
  while (rest.length > 0) {
    const match = SEGMENT.exec(rest);
    if (!match) throw invalidPath(path, `unexpected "${rest}"`);
    const [text, dot, name, index] = match;
    if (name !== undefined) {
      const isFirst = segments.length === 0;
      if (isFirst === (dot !== undefined)) throw invalidPath(path, `unexpected "${rest}"`);
      if (FORBIDDEN_SEGMENTS.has(name)) throw invalidPath(path, `"${name}" is not allowed`);
      segments.push(name);
    } else {
      segments.push(Number(index));
    }
    rest = rest.slice(text.length);
  }
  return segments;
}

function step(current: unknown, segment: PathSegment): unknown {
  if (Array.isArray(current)) {
    const index = typeof segment === "number" ? segment : /^\d+$/.test(segment) ? Number(segment) : undefined;
    return index !== undefined && index < current.length ? current[index] : undefined;
  }
  if (current !== null && typeof current === "object") {
    const key = String(segment);
    return Object.hasOwn(current, key) ? (current as Record<string, unknown>)[key] : undefined;
  }
  return undefined;
}

function invalidPath(path: string, reason: string): DispatchError {
  return new DispatchError("invalid_path", `Invalid path "${path}": ${reason}`);
}
