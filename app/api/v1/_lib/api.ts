import type { Instance } from "@/lib/instance";
import { actorFromBearer } from "@/lib/auth/bearer";
import { AppError } from "@/lib/errors";
import { handleRoute } from "@/lib/server/http";
import { getInstance } from "@/lib/server/instance";
import type { Actor } from "@/lib/services/actor";

/** The largest request body the API reads. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface ApiContext<Params> {
  request: Request;
  actor: Actor;
  instance: Instance;
  params: Params;
}

/**
 * A REST API v1 handler: the caller is resolved from the bearer token before anything else,
 * and every error becomes `{ error: { code, message, issues? } }` with its HTTP status
 * (lib/server/http.ts). Handlers call services, which authorize and scope by realm.
 */
export function apiRoute<Params = Record<string, never>>(
  handler: (context: ApiContext<Params>) => Promise<Response>,
): (request: Request, context: { params: Promise<Params> }) => Promise<Response> {
  return async (request, context) => {
    const response = await handleRoute(async () => {
      const instance = await getInstance();
      const actor = await actorFromBearer({ db: instance.database.db }, request.headers);
      return handler({ request, actor, instance, params: await (context?.params ?? Promise.resolve({} as Params)) });
    });
    if (response.status === 401) response.headers.set("www-authenticate", 'Bearer realm="loopstacks"');
    return response;
  };
}

export function json(body: unknown, init: { status?: number; headers?: Record<string, string> } = {}): Response {
  return Response.json(body, { status: init.status ?? 200, headers: { "cache-control": "no-store", ...init.headers } });
}

/**
 * The JSON body, read up to MAX_BODY_BYTES: a larger body is refused by its declared length,
 * or as soon as the bytes read pass the limit, without buffering the rest.
 */
export async function readJson(request: Request, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/(.+\+)?json\b/i.test(type)) {
    throw new AppError("invalid_request", "Send the body as JSON with Content-Type: application/json");
  }
  const tooLarge = () => new AppError("payload_too_large", `The body is larger than ${maxBytes} bytes`);
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  if (!request.body) throw new AppError("invalid_request", "The request has no body");
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (error) {
    throw new AppError("invalid_request", `The body is not valid JSON: ${(error as Error).message}`);
  }
}
