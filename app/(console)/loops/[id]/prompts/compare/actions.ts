"use server";

import { redirect } from "next/navigation";
import { z } from "zod";
import { createAction } from "@/lib/server/action";
import { replayPromptVersion } from "@/lib/services/prompts/replay-prompt-version";

const replaySchema = z.object({
  loopId: z.string().trim().min(1).max(100),
  version: z.coerce.number().int().positive(),
  runIds: z.string().max(20 * 40),
  compareWith: z.coerce.number().int().positive(),
});

// The service checks that the caller may run the loop and view each chosen run: this action is reachable by a direct POST.
export const replayAction = createAction(replaySchema, async ({ actor, instance, input }) => {
  const result = await replayPromptVersion({ db: instance.database.db, executor: instance.executor }, actor, {
    loopId: input.loopId,
    version: input.version,
    runIds: input.runIds,
  });
  const pairs = result.pairs.flatMap((p) => (p.replayRunId ? [`${p.sourceRunId}:${p.replayRunId}`] : [])).join(",");
  const failed = result.pairs.filter((p) => p.replayRunId === null).length;
  const query = new URLSearchParams({ a: String(input.compareWith), b: String(input.version), replays: pairs, ...(failed > 0 ? { failed: String(failed) } : {}) });
  redirect(`/loops/${encodeURIComponent(result.loopId)}/prompts/compare?${query.toString()}`);
});
