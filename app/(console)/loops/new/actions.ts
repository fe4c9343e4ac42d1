"use server";

import { redirect } from "next/navigation";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { createAction } from "@/lib/server/action";
import { registerLoop } from "@/lib/services/register-loop";

const MAX_DEFINITION_BYTES = 256 * 1024;

const registerFormSchema = z.object({
  definition: z
    .string()
    .min(1, "Enter a loop definition")
    .refine((text) => Buffer.byteLength(text) <= MAX_DEFINITION_BYTES, "The definition is larger than 256 KB")
    .transform((text, context) => {
      try {
        // YAML is a superset of JSON, so one parser takes both; aliases are capped against expansion bombs.
        return parseYaml(text, { maxAliasCount: 50 }) as unknown;
      } catch (error) {
        context.addIssue({ code: "custom", message: `Not valid JSON or YAML: ${(error as Error).message.split("\n")[0]}` });
        return z.NEVER;
      }
    }),
});

export const registerLoopAction = createAction(registerFormSchema, async ({ actor, instance, input }) => {
  const result = await registerLoop({ db: instance.database.db, registry: instance.registry }, actor, { definition: input.definition });
  redirect(`/loops/${encodeURIComponent(result.loopId)}`);
});
