import { invokeLoop } from "@/lib/services/invoke-loop";
import { apiRoute, json, readJson } from "../_lib/api";
import { unsupportedMethods } from "@/lib/server/http";

/**
 * Starts a run: `{ loopId, input, wait? }`. With `wait: true` the answer is the finished run
 * with its trace (200); otherwise, or when the run outlasts the wait, 202 with the run id.
 */
export const POST = apiRoute(async ({ request, actor, instance }) => {
  const body = await readJson(request);
  const result = await invokeLoop({ db: instance.database.db, executor: instance.executor }, actor, body);
  if (result.done) return json(result);
  const location = `/api/v1/runs/${result.runId}`;
  return json({ ...result, links: { run: location } }, { status: 202, headers: { location } });
});

export const { GET, HEAD, PUT, PATCH, DELETE, OPTIONS } = unsupportedMethods({ POST });
