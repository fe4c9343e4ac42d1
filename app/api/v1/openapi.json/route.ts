import { openApiDocument } from "../_lib/openapi";
import { unsupportedMethods } from "@/lib/server/http";

/** The API's description. Public: it says what the API accepts, nothing about any realm's contents. */
export function GET(): Response {
  return Response.json(openApiDocument(), { headers: { "cache-control": "public, max-age=300" } });
}

export const { POST, PUT, PATCH, DELETE, OPTIONS } = unsupportedMethods({ GET });
