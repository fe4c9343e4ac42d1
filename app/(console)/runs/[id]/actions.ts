"use server";

import { z } from "zod";
import { createAction } from "@/lib/server/action";
import { cancelRun } from "@/lib/services/cancel-run";

export const cancelRunAction = createAction(z.object({ runId: z.string().max(100) }), async ({ actor, instance, input }) => {
  return cancelRun({ db: instance.database.db, executor: instance.executor }, actor, { runId: input.runId });
});
