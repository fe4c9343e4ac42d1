import { z } from "zod";
import type { Db } from "../../../db/client";
import { getFrameForScoring, insertScore, type Score } from "../../../db/queries/scores";
import { AppError, hasNul, NUL_MESSAGE } from "../../errors";
import { SCORE_LIMIT } from "../../runtime/evaluators";
import { assertCan, scopeFor, type Actor } from "../actor";
import { parseInput } from "./prompt-loop";

const blankAsUndefined = (value: unknown) => (typeof value === "string" && value.trim() === "" ? undefined : value);
/** Decimal notation, as people write a score: not hexadecimal, binary or octal, which `Number()` also reads. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
/** A form sends the value as text; JSON sends a number, or null for none. Nothing else (a boolean, say) counts as one. */
const numberOrText = (value: unknown) => {
  const given = blankAsUndefined(value);
  if (given === null) return undefined;
  if (typeof given !== "string") return given;
  const text = given.trim();
  return DECIMAL.test(text) ? Number(text) : given;
};

export const addScoreSchema = z
  .object({
    frameId: z.uuid(),
    name: z.string().trim().min(1).max(100).refine((text) => !hasNul(text), NUL_MESSAGE).default("quality"),
    value: z.preprocess(
      numberOrText,
      z
        .number({ error: "must be a number" })
        .finite()
        .min(-SCORE_LIMIT, `must be from -${SCORE_LIMIT} to ${SCORE_LIMIT}`)
        .max(SCORE_LIMIT, `must be from -${SCORE_LIMIT} to ${SCORE_LIMIT}`)
        .optional(),
    ),
    label: z.preprocess(blankAsUndefined, z.string().trim().max(100).refine((text) => !hasNul(text), NUL_MESSAGE).optional()),
    comment: z.string().trim().max(10_000).refine((text) => !hasNul(text), NUL_MESSAGE).default(""),
    /** Set by the adapter, never by the person: `human` in the console, `api` over the REST API. */
    source: z.enum(["human", "api"]).default("human"),
  })
  .refine((score) => score.value !== undefined || score.label !== undefined, { message: "Give a value, a label, or both", path: ["value"] });
export type AddScoreInput = z.input<typeof addScoreSchema>;

/**
 * Attaches a score to a frame, and through it to the prompt version that produced the frame.
 * Operators, maintainers and admins of the frame's realm may score; a frame of a realm the
 * caller cannot view does not exist for them.
 */
export async function addScore(deps: { db: Db }, actor: Actor, raw: AddScoreInput): Promise<Score> {
  const parsed = addScoreSchema.safeParse(raw);
  if (!parsed.success && parsed.error.issues.some((issue) => issue.path[0] === "frameId")) {
    throw new AppError("not_found", "Frame does not exist");
  }
  const input = parsed.success ? parsed.data : parseInput(addScoreSchema, raw);
  const frame = await getFrameForScoring(deps.db, { frameId: input.frameId, scope: scopeFor(actor, "view") });
  if (!frame) throw new AppError("not_found", `Frame ${input.frameId} does not exist`);
  assertCan(actor, "run", frame.realmId, `Frame ${input.frameId}`);
  return insertScore(deps.db, {
    frame,
    name: input.name,
    value: input.value ?? null,
    label: input.label ?? null,
    comment: input.comment,
    source: input.source,
    author: actor.identity.subject,
  });
}
