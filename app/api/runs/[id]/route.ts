import { requireActor } from "@/lib/server/actor";
import { handleRoute } from "@/lib/server/http";
import { getInstance } from "@/lib/server/instance";
import { getRun } from "@/lib/services/get-run";

/**
 * A run and its trace for the console's live view. Authenticated by the session cookie and
 * scoped to the caller's realms; the page that polls it recorded the view already.
 */
export async function GET(_request: Request, context: { params: Promise<{ id: string }> }): Promise<Response> {
  return handleRoute(async () => {
    const actor = await requireActor({ intent: "view" });
    const { id } = await context.params;
    const instance = await getInstance();
    const detail = await getRun({ db: instance.database.db }, actor, { runId: id });
    return Response.json(detail, { headers: { "cache-control": "no-store" } });
  });
}
