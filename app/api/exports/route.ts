import { requireActor } from "@/lib/server/actor";
import { exportDownload } from "@/lib/server/export-response";
import { handleRoute } from "@/lib/server/http";

/** A realm's runs in a time range `[from, to)`, as one signed bundle. */
export async function GET(request: Request): Promise<Response> {
  return handleRoute(async () => {
    const actor = await requireActor();
    const params = new URL(request.url).searchParams;
    return exportDownload(request, actor, { kind: "realm", realmId: params.get("realm") ?? "", from: asUtc(params.get("from")), to: asUtc(params.get("to")) });
  });
}

/** A form's `datetime-local` value carries no zone; the console shows and means UTC. */
function asUtc(value: string | null): string {
  if (!value) return "";
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value) ? `${value}Z` : value;
}
