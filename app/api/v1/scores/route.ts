import { addScore, type AddScoreInput } from "@/lib/services/prompts/add-score";
import { apiRoute, json, readJson } from "../_lib/api";
import { unsupportedMethods } from "@/lib/server/http";

/** Scores a frame: `{ frameId, value?, label?, comment?, name? }`. Operator, maintainer or admin tokens. */
export const POST = apiRoute(async ({ request, actor, instance }) => {
  const body = await readJson(request);
  const fields = body && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  // The source is the adapter's to say, never the caller's.
  const score = await addScore({ db: instance.database.db }, actor, { ...fields, source: "api" } as AddScoreInput);
  return json(score, { status: 201 });
});

export const { GET, HEAD, PUT, PATCH, DELETE, OPTIONS } = unsupportedMethods({ POST });
