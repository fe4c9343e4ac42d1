import { z } from "zod";
import { getFramePromptDetails } from "@/db/queries/prompt-details";
import { AppError } from "@/lib/errors";
import { requireActor } from "@/lib/server/actor";
import { handleRoute } from "@/lib/server/http";
import { getInstance } from "@/lib/server/instance";
import { scopeFor } from "@/lib/services/actor";

const paramsSchema = z.object({ id: z.uuid(), frameId: z.uuid() });

/**
 * The prompt version a frame ran: its text and who promoted it when. Fetched by the trace
 * inspector only when a frame is opened, so a large trace does not carry every prompt text.
 * A frame outside the caller's realms answers 404, exactly like one that does not exist.
 */
export async function GET(_request: Request, context: { params: Promise<{ id: string; frameId: string }> }): Promise<Response> {
  return handleRoute(async () => {
    const actor = await requireActor({ intent: "view" });
    const parsed = paramsSchema.safeParse(await context.params);
    if (!parsed.success) throw new AppError("not_found", "Frame does not exist");
    const { id: runId, frameId } = parsed.data;
    const instance = await getInstance();
    const details = await getFramePromptDetails(instance.database.db, { runId, frameId, scope: scopeFor(actor, "view") });
    if (!details) throw new AppError("not_found", "This frame has no prompt version you can view");
    return Response.json(details, { headers: { "cache-control": "private, no-store" } });
  });
}
