import { cancelRun } from "@/lib/services/cancel-run";
import { apiRoute, json } from "../../../_lib/api";
import { unsupportedMethods } from "@/lib/server/http";

/** Cancels a running run and every running and queued frame under it (operator or higher). */
export const POST = apiRoute<{ id: string }>(async ({ actor, instance, params }) => {
  const result = await cancelRun({ db: instance.database.db, executor: instance.executor }, actor, { runId: params.id });
  return json(result, { status: 202 });
});

export const { GET, HEAD, PUT, PATCH, DELETE, OPTIONS } = unsupportedMethods({ POST });
