import { unsupportedMethods } from "@/lib/server/http";

/** The API's index: where its description is. Public, like the description. */
export function GET(): Response {
  return Response.json(
    { name: "LoopStacks REST API", version: "1", openapi: "/api/v1/openapi.json" },
    { headers: { "cache-control": "public, max-age=300" } },
  );
}

export const { POST, PUT, PATCH, DELETE, OPTIONS } = unsupportedMethods({ GET });
