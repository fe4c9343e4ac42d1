import { unstable_rethrow } from "next/navigation";
import { isAppError, nulRefusal, type AppErrorCode } from "../errors";

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
