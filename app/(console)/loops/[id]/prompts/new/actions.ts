"use server";

import { redirect } from "next/navigation";
import { z } from "zod";
import { createAction } from "@/lib/server/action";
import { createPromptVersion } from "@/lib/services/prompts/create-prompt-version";

const newVersionSchema = z.object({
  loopId: z.string().trim().min(1).max(100),
  systemPrompt: z.string().max(200_000),
  model: z.string().max(200),
  maxTokens: z.string().max(20),
  temperature: z.string().max(20).optional(),
  message: z.string().max(2000).optional(),
});

// The service checks that the caller maintains the loop's realm: this action is reachable by a direct POST.
export const createVersionAction = createAction(newVersionSchema, async ({ actor, instance, input }) => {
  const version = await createPromptVersion({ db: instance.database.db }, actor, input);
  redirect(`/loops/${encodeURIComponent(version.loopId)}/prompts/${version.version}?created=1`);
});
