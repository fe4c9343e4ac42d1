"use server";

import { redirect } from "next/navigation";
import { z } from "zod";
import { createAction } from "@/lib/server/action";
import { MAX_RUN_INPUT_BYTES, startRun } from "@/lib/services/start-run";

const runFormSchema = z.object({
  loopId: z.string().min(1).max(100),
  input: z
    .string()
    .refine((text) => Buffer.byteLength(text) <= MAX_RUN_INPUT_BYTES, "The input is larger than 1 MB")
    .transform((text, context) => {
      if (text.trim() === "") return {};
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        context.addIssue({ code: "custom", message: `The input is not valid JSON: ${(error as Error).message}` });
        return z.NEVER;
      }
    }),
});

export const startRunAction = createAction(runFormSchema, async ({ actor, instance, input }) => {
  const { runId } = await startRun({ db: instance.database.db, executor: instance.executor }, actor, { loopId: input.loopId, input: input.input });
  redirect(`/runs/${runId}`);
});
