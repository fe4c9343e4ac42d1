import type { HttpLoopDefinition } from "../definition";
import type { DispatchContext, DispatchOutcome } from "../dispatch";
import { callSignal, cancellationError, DispatchError, isAbortError, isRetryableStatus, retryAfterMs, toDispatchError, withRetry } from "../retry";
import { getPath, renderJson, renderString, renderUrl } from "../template";
import { redactError, redactSecrets } from "../redact";
import { BLOCKED_ADDRESS_CODE, isDecodingError } from "../http-client";
import { CLIENT_HEADERS, HEADER_NAME, INVALID_HEADER_VALUE, trimHeaderValue } from "../http-headers";
import type { HttpResponse } from "../types";

export const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

/** Redirects followed before the call fails, as browsers and curl bound them. */
const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** How much of a failed response's body is kept in the error, enough to read the server's complaint. */
const ERROR_BODY_BYTES = 2 * 1024;

const CONNECTION_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_CLOSED",
]);

export interface HttpDispatchOptions {
  /** Responses larger than this fail with `response_too_large`; reading stops at the limit. */
  maxResponseBytes?: number;
}

interface PreparedRequest {
  url: URL;
  /** Origin and path only: query strings may carry tokens, so they stay out of messages. */
  target: string;
  method: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string | undefined;
  /** Whether a header carries a resolved secret: then no redirect leaves the origin. */
  carriesSecret: boolean;
}

/**
 * Calls the loop's HTTP endpoint. Secrets are resolved here, at dispatch time, and every
 * resolved value is scrubbed from the output and from errors: the server may echo a header
 * back, and what this returns ends up in traces and exports.
 */
export async function dispatchHttp(
  definition: HttpLoopDefinition,
  input: unknown,
  ctx: DispatchContext,
  options: HttpDispatchOptions = {},
): Promise<DispatchOutcome> {
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const secretValues: string[] = [];
  const redact = (value: unknown) => redactSecrets(value, secretValues);
  try {
    const request = prepareRequest(definition, input, ctx, secretValues);
    const output = await withRetry(
      async () => {
        try {
          return await attempt(request, definition, ctx, maxResponseBytes);
        } catch (error) {
          throw redactError(toDispatchError(error), secretValues);
        }
      },
      { policy: definition.retry, signal: ctx.signal, clock: ctx.clock, onAttempt: ctx.recordAttempt },
    );
    return { output: redact(output) };
  } catch (error) {
    throw redactError(error, secretValues);
  }
}

function prepareRequest(definition: HttpLoopDefinition, input: unknown, ctx: DispatchContext, secretValues: string[]): PreparedRequest {
  const { http } = definition;
  const url = renderUrl(http.url, input);
  const target = `${url.origin}${url.pathname}`;

  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(http.headers)) {
    let rendered: string;
    if (typeof value === "string") {
      rendered = renderString(value, input);
    } else {
      const secret = ctx.secrets.resolve(value.secret, ctx.realm);
      if (secret === undefined) throw new DispatchError("secret_missing", `Secret ${value.secret} is not set for realm ${ctx.realm}`);
      secretValues.push(secret);
      rendered = secret;
    }
    setHeader(headers, name, rendered);
  }
  // A retried call whose first response was lost must be recognisable to the server.
  headers["idempotency-key"] ??= ctx.frameId;
  // What `fetch` would send: servers that refuse a request without a User-Agent exist.
  headers["user-agent"] ??= USER_AGENT;
  headers["accept"] ??= "*/*";
  headers["accept-encoding"] ??= "gzip, deflate, br";

  let body: string | undefined;
  if (http.method !== "GET" && http.method !== "HEAD") {
    const payload = http.body === undefined ? input : renderJson(http.body, input);
    body = payload === undefined ? undefined : JSON.stringify(payload);
    if (body !== undefined) headers["content-type"] ??= "application/json";
  }

  return { url, target, method: http.method, headers, body, carriesSecret: secretValues.length > 0 };
}

const USER_AGENT = "loopstacks";

/** Checked again here: a rendered template may hold anything, and a definition may predate the checks. */
function setHeader(headers: Record<string, string>, name: string, value: string): void {
  const normalized = trimHeaderValue(value);
  const key = name.toLowerCase();
  if (!HEADER_NAME.test(name) || INVALID_HEADER_VALUE.test(normalized)) {
    throw new DispatchError("invalid_header", `Header ${name} has an invalid name or value`);
  }
  if (CLIENT_HEADERS.has(key)) {
    throw new DispatchError("invalid_header", `Header ${name} is set by the HTTP client, not by a loop`);
  }
  headers[key] = normalized;
}

/**
 * Sends the request and follows redirects itself. An HTTP client that followed them would keep
 * every custom header on a redirect to another host, so a secret API key could be handed to
 * whatever host a server redirects to: a request that carries a secret follows redirects within
 * its origin only.
 * Elsewhere, credentials and cookies are dropped when a redirect leaves the origin, as browsers
 * do; a 303 (or a 301/302 answering a POST) continues as a GET without a body.
 */
async function send(request: PreparedRequest, ctx: DispatchContext, signal: AbortSignal): Promise<HttpResponse> {
  let url = request.url;
  let method = request.method;
  let body = request.body;
  // Copied only when a redirect changes them.
  let headers = request.headers;
  for (let redirects = 0; ; redirects++) {
    const response = await ctx.http.request(url.href, { method, headers, ...(body !== undefined ? { body } : {}), signal });
    const location = REDIRECT_STATUSES.has(response.status) ? response.header("location") : null;
    if (location === null) return response;
    await response.discard();
    if (redirects >= MAX_REDIRECTS) throw new DispatchError("http_redirect", `More than ${MAX_REDIRECTS} redirects from ${request.target}`);
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new DispatchError("http_redirect", `${request.target} redirected to an invalid location`);
    }
    if (next.protocol !== "http:" && next.protocol !== "https:") {
      throw new DispatchError("http_redirect", `${request.target} redirected to a ${next.protocol} URL, which is not followed`);
    }
    if (headers === request.headers) headers = Object.assign(Object.create(null) as Record<string, string>, request.headers);
    if (next.origin !== url.origin) {
      if (request.carriesSecret) {
        throw new DispatchError(
          "http_redirect_refused",
          `${request.target} redirected to another origin (${next.origin}); the request carries a secret header, so the redirect is not followed`,
        );
      }
      for (const name of ["authorization", "cookie", "proxy-authorization"]) delete headers[name];
    }
    if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
      if (method !== "HEAD") method = "GET";
      body = undefined;
      delete headers["content-type"];
    }
    url = next;
  }
}

async function attempt(request: PreparedRequest, definition: HttpLoopDefinition, ctx: DispatchContext, maxResponseBytes: number): Promise<unknown> {
  const { timeoutMs, response: responseConfig } = definition.http;
  const call = callSignal(ctx.signal, timeoutMs, `No response within ${timeoutMs} ms`);
  try {
    const response = await send(request, ctx, call.signal);

    if (response.status < 200 || response.status > 299) {
      // The status is the failure: a body that cannot be read or decoded does not change it.
      const { bytes } = await readBody(response, ERROR_BODY_BYTES).catch(() => ({ bytes: new Uint8Array() }));
      const retryAfter = retryAfterMs((name) => response.header(name));
      throw new DispatchError("http_status", `HTTP ${response.status} from ${request.target}`, {
        status: response.status,
        retryable: isRetryableStatus(response.status),
        details: { body: decode(bytes) },
        ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
      });
    }

    const declaredLength = Number(response.header("content-length"));
    if (Number.isFinite(declaredLength) && declaredLength > maxResponseBytes) {
      await response.discard();
      throw tooLarge(request, maxResponseBytes);
    }
    const { bytes, isComplete } = await readBody(response, maxResponseBytes);
    if (!isComplete) throw tooLarge(request, maxResponseBytes);

    const parsed = responseConfig.type === "json" ? parseJson(decode(bytes), request) : decode(bytes);
    if (responseConfig.pick === undefined) return parsed;
    const picked = getPath(parsed, responseConfig.pick);
    if (picked === undefined) {
      throw new DispatchError("invalid_response", `The response from ${request.target} has no value at "${responseConfig.pick}"`);
    }
    return picked;
  } catch (error) {
    if (ctx.signal.aborted) throw cancellationError(ctx.signal);
    if (error instanceof DispatchError) throw error;
    const blocked = [error, error instanceof Error ? error.cause : undefined].find((e) => errorCode(e) === BLOCKED_ADDRESS_CODE);
    if (blocked) throw new DispatchError("http_address_blocked", `${request.target} was not requested: ${(blocked as Error).message}`, { retryable: false });
    const proxyStatus = proxyRefusal(error);
    if (proxyStatus !== null && !call.isTimedOut()) {
      throw new DispatchError("http_proxy_error", `The proxy refused the tunnel to ${request.target} (HTTP ${proxyStatus})`, {
        retryable: isRetryableStatus(proxyStatus),
        status: proxyStatus,
      });
    }
    if (call.isTimedOut() || isAbortError(error)) {
      throw new DispatchError("http_timeout", `No response from ${request.target} within ${timeoutMs} ms`, { retryable: true, cause: error });
    }
    if (isDecodingError(error)) {
      throw new DispatchError("invalid_response", `The response from ${request.target} could not be decoded: ${error instanceof Error ? error.message : String(error)}`);
    }
    const code = errorCode(error);
    if (code !== undefined && REFUSED_REQUEST_CODES.has(code)) {
      throw new DispatchError("invalid_request", `The request to ${request.target} could not be sent: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (isConnectionError(error)) {
      throw new DispatchError("http_connection_error", `Could not reach ${request.target}: ${describeConnectionError(error)}`, {
        retryable: true,
        cause: error,
      });
    }
    throw error;
  } finally {
    call.dispose();
  }
}

/**
 * Reads at most `maxBytes`, then stops reading; `isComplete` says whether the whole body fit.
 * Read from the stream's events: an async iterator costs a tree that fans out to many HTTP
 * leaves more CPU than the rest of reading their bodies.
 */
function readBody(response: HttpResponse, maxBytes: number): Promise<{ bytes: Uint8Array; isComplete: boolean }> {
  const { body } = response;
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const stop = () => {
      body.off("data", onData);
      body.off("end", onEnd);
      body.off("error", onError);
      body.off("close", onClose);
    };
    const onData = (chunk: Uint8Array) => {
      if (total + chunk.byteLength <= maxBytes) {
        chunks.push(chunk);
        total += chunk.byteLength;
        return;
      }
      stop();
      chunks.push(chunk.subarray(0, maxBytes - total));
      response.discard().then(() => resolve({ bytes: concat(chunks, maxBytes), isComplete: false }), reject);
    };
    const onEnd = () => {
      stop();
      resolve({ bytes: concat(chunks, total), isComplete: true });
    };
    const onError = (error: unknown) => {
      stop();
      reject(error);
    };
    // Closed with neither an end nor an error: the body was cut off.
    const onClose = () => onError(Object.assign(new Error("Premature close"), { code: "ERR_STREAM_PREMATURE_CLOSE" }));
    body.on("data", onData);
    body.on("end", onEnd);
    body.on("error", onError);
    body.on("close", onClose);
  });
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

const utf8 = new TextDecoder();

function decode(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

function parseJson(text: string, request: PreparedRequest): unknown {
  // A 204 or an empty 200 carries no value rather than malformed JSON.
  if (text.trim() === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    // The parser's message quotes the body, which may echo a secret; it is not kept.
    throw new DispatchError("invalid_response", `The response from ${request.target} is not valid JSON`);
  }
}

function tooLarge(request: PreparedRequest, maxResponseBytes: number): DispatchError {
  return new DispatchError("response_too_large", `The response from ${request.target} exceeds ${maxResponseBytes} bytes`);
}

/** Error codes of a request the HTTP client refused to send as it was built. */
const REFUSED_REQUEST_CODES = new Set(["UND_ERR_INVALID_ARG", "UND_ERR_NOT_SUPPORTED", "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH"]);

/** Families of codes for what went wrong between here and the server: TLS, the HTTP parser, the socket. */
const CONNECTION_ERROR_FAMILY = /^(UND_ERR_|HPE_|ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|EPROTO$)/;

function isConnectionError(error: unknown): boolean {
  const code = errorCode(error) ?? errorCode(error instanceof Error ? error.cause : undefined);
  if (code !== undefined && (CONNECTION_ERROR_CODES.has(code) || CONNECTION_ERROR_FAMILY.test(code))) return true;
  // A system call that failed (connect, write, read) is the network's failure, whatever its code.
  if (error !== null && typeof error === "object" && "syscall" in error && typeof error.syscall === "string") return true;
  // A response that is not HTTP at all.
  if (error instanceof Error && error.name === "HTTPParserError") return true;
  return error instanceof Error && /socket hang up/i.test(error.message);
}

/** The status a proxy answered a CONNECT with when it refused the tunnel (undici reports it as an abort), or null. */
function proxyRefusal(error: unknown): number | null {
  const match = error instanceof Error && errorCode(error) === "UND_ERR_ABORTED" ? /^Proxy response \((\d{3})\) !== 200/.exec(error.message) : null;
  return match ? Number(match[1]) : null;
}

/** A wrapped network failure ("fetch failed", say) is described by its cause. */
function describeConnectionError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  return cause instanceof Error && cause.message ? cause.message : error.message;
}

function errorCode(error: unknown): string | undefined {
  if (error !== null && typeof error === "object" && "code" in error && typeof error.code === "string") return error.code;
  return undefined;
}

