import { unstable_rethrow } from "next/navigation";
import { AppError, isAppError, nulRefusal, type AppErrorCode } from "../errors";

const STATUS: Record<AppErrorCode, number> = {
  invalid_definition: 422,
  invalid_input: 422,
  invalid_request: 400,
  not_found: 404,
  unauthenticated: 401,
  forbidden: 403,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

/** Runs a route handler body and turns its errors into JSON with a code and an HTTP status. */
export async function handleRoute(body: () => Promise<Response>): Promise<Response> {
  try {
    return await body();
  } catch (error) {
    unstable_rethrow(error);
    return errorResponse(error);
  }
}

export function errorResponse(caught: unknown): Response {
  const error = nulRefusal(caught) ?? caught;
  if (isAppError(error) && error.code !== "internal") {
    return Response.json(
      { error: { code: error.code, message: error.message, ...(error.issues.length > 0 ? { issues: error.issues } : {}) } },
      { status: STATUS[error.code], headers: { "cache-control": "no-store" } },
    );
  }
  console.error("Request failed:", error);
  return Response.json({ error: { code: "internal", message: "Internal error" } }, { status: 500, headers: { "cache-control": "no-store" } });
}

/** The methods Next routes to a route handler; any other method is refused by Next itself. */
export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

type RouteHandler = (request: Request) => Response;
type Unsupported<Supported> = Exclude<HttpMethod, keyof Supported | ("GET" extends keyof Supported ? "HEAD" : never)>;

/**
 * Handlers for the methods a route does not take, to export beside the ones it does:
 * `export const { GET, HEAD, PUT, PATCH, DELETE, OPTIONS } = unsupportedMethods({ POST })`.
 * Left to Next, such a method gets a 405 with no body and no Allow header, and Next's own
 * OPTIONS would list these handlers as allowed. Here a wrong method gets a JSON error with the
 * route's Allow header, and OPTIONS the same header. Neither reads the caller's token: what a
 * route takes is no secret. HEAD is answered by GET when the route takes GET.
 *
 * `method_not_allowed` is not an AppErrorCode: no service can throw it, it is about HTTP only.
 */
export function unsupportedMethods<const Supported extends Partial<Record<HttpMethod, unknown>>>(
  supported: Supported,
): Record<Unsupported<Supported>, RouteHandler> {
  const taken = new Set<string>(Object.keys(supported));
  if (taken.has("GET")) taken.add("HEAD");
  taken.add("OPTIONS");
  const allow = HTTP_METHODS.filter((method) => taken.has(method)).sort().join(", ");
  const refuse: RouteHandler = (request) =>
    Response.json(
      { error: { code: "method_not_allowed", message: `${request.method} is not allowed on ${new URL(request.url).pathname}; it takes ${allow}` } },
      { status: 405, headers: { allow, "cache-control": "no-store" } },
    );
  const handlers: Partial<Record<HttpMethod, RouteHandler>> = {};
  for (const method of HTTP_METHODS) if (!taken.has(method)) handlers[method] = refuse;
  if (!("OPTIONS" in supported)) handlers.OPTIONS = () => new Response(null, { status: 204, headers: { allow } });
  return handlers as Record<Unsupported<Supported>, RouteHandler>;
}

/** Every method of a path no route takes: a JSON 404 instead of Next's HTML page. */
export function noSuchRoute(request: Request): Response {
  return errorResponse(new AppError("not_found", `No such API route: ${request.method} ${new URL(request.url).pathname}`));
}
