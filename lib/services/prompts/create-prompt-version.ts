import { z } from "zod";
import type { Db } from "../../../db/client";
import { appendAuditEvent } from "../../../db/queries/audit";
import { insertPromptVersion, lockLoopForPrompts } from "../../../db/queries/prompts";
import { AppError, hasNul, NUL_MESSAGE } from "../../errors";
import type { PromptVersion } from "../../runtime/types";
import type { Actor } from "../actor";
import { auditActor, findPromptLoop, inTransaction, loopIdField, parseInput } from "./prompt-loop";

/** An empty form field means "not set". */
const blankAsUndefined = (value: unknown) => (typeof value === "string" && value.trim() === "" ? undefined : value);

export const createPromptVersionSchema = z.object({
  loopId: loopIdField,
  systemPrompt: z.string().max(200_000, "A system prompt is limited to 200,000 characters").refine((text) => !hasNul(text), NUL_MESSAGE),
  model: z.string().trim().min(1, "Name the model").max(200).refine((text) => !hasNul(text), NUL_MESSAGE),
  maxTokens: z.coerce.number().int().min(1).max(128_000),
  temperature: z.preprocess(blankAsUndefined, z.coerce.number().min(0).max(1).optional()),
  message: z.string().trim().max(2000).refine((text) => !hasNul(text), NUL_MESSAGE).default(""),
});
export type CreatePromptVersionInput = z.input<typeof createPromptVersionSchema>;

/**
 * Appends a prompt version (the next number) to an LLM loop. It does not go live: promoting it,
 * or a rollout, does that. Maintainers and admins of the loop's realm may.
 */
export async function createPromptVersion(deps: { db: Db }, actor: Actor, raw: CreatePromptVersionInput): Promise<PromptVersion> {
  const input = parseInput(createPromptVersionSchema, raw);
  const loop = await findPromptLoop(deps.db, actor, input.loopId, "edit");
  const params: PromptVersion["params"] = {
    model: input.model,
    maxTokens: input.maxTokens,
    ...(input.temperature !== undefined ? { temperature: input.temperature } : {}),
  };
  return inTransaction(deps.db, async (tx) => {
    if (!(await lockLoopForPrompts(tx, loop.id))) throw new AppError("not_found", `Loop "${loop.id}" does not exist`);
    const version = await insertPromptVersion(tx, {
      loopId: loop.id,
      systemPrompt: input.systemPrompt,
      params,
      author: actor.identity.subject,
      message: input.message,
    });
    await appendAuditEvent(tx, {
      action: "prompt.version_created",
      actor: auditActor(actor),
      realmId: loop.realm,
      targetType: "loop",
      targetId: loop.id,
      data: { version: version.version, message: input.message, params },
    });
    return version;
  });
}
