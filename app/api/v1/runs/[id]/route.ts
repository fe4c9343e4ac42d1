import { getRun } from "@/lib/services/get-run";
import { apiRoute, json } from "../../_lib/api";
import { unsupportedMethods } from "@/lib/server/http";

/** A run and its trace (the Loop Stack Tree). Reading a trace is audited. */
export const GET = apiRoute<{ id: string }>(async ({ actor, instance, params }) => {
  const detail = await getRun({ db: instance.database.db }, actor, { runId: params.id }, { recordView: true });
  return json(detail);
});

export const { POST, PUT, PATCH, DELETE, OPTIONS } = unsupportedMethods({ GET });
