import { requireActor } from "@/lib/server/actor";
import { exportDownload } from "@/lib/server/export-response";
import { handleRoute } from "@/lib/server/http";

/** "Export compliance bundle" on a run page: auditors and admins of the run's realm. */
export async function GET(request: Request, context: { params: Promise<{ id: string }> }): Promise<Response> {
  return handleRoute(async () => {
    const actor = await requireActor();
    const { id } = await context.params;
    return exportDownload(request, actor, { kind: "run", runId: id });
  });
}
