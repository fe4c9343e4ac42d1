import { z } from "zod";
import type { Db } from "../../db/client";
import { getLoop as selectLoop, getPromptVersion, listLoopRevisions } from "../../db/queries/loops";
import { AppError } from "../errors";
import { diffDefinitions, pickRevisionPair } from "../loops/definition-diff";
import type { LineDiff } from "../prompts/line-diff";
import type { PromptVersion, RegisteredLoop } from "../runtime/types";
import { can, scopeFor, type Actor } from "./actor";

export const getLoopSchema = z.object({ loopId: z.string().min(1).max(100) });
export type GetLoopInput = z.input<typeof getLoopSchema>;

export interface LoopRevisionSummary {
  revision: number;
  hash: string;
  createdBy: string;
  createdAt: string;
}

export interface LoopDetail {
  loop: RegisteredLoop;
  revisions: LoopRevisionSummary[];
  /** LLM loops: the prompt version the next frame will run. */
  activePrompt: PromptVersion | null;
  /** A starting point for the run form, derived from the input schema. */
  sampleInput: unknown;
  canRun: boolean;
  canEdit: boolean;
}

/** One loop of a realm the caller can view; `not_found` otherwise, whether or not it exists. */
export async function getLoop(deps: { db: Db }, actor: Actor, raw: GetLoopInput): Promise<LoopDetail> {
  const parsed = getLoopSchema.safeParse(raw);
  if (!parsed.success) throw new AppError("not_found", "Loop does not exist");
  const { loopId } = parsed.data;
  const scope = scopeFor(actor, "view");
  const loop = await selectLoop(deps.db, { loopId, scope });
  if (!loop) throw new AppError("not_found", `Loop "${loopId}" does not exist`);
  const [revisions, activePrompt] = await Promise.all([
    listLoopRevisions(deps.db, { loopId, scope }),
    loop.activePromptVersion === null ? null : getPromptVersion(deps.db, loop.id, loop.activePromptVersion),
  ]);
  return {
    loop,
    revisions: revisions.map(({ revision, hash, createdBy, createdAt }) => ({ revision, hash, createdBy, createdAt })),
    activePrompt,
    sampleInput: sampleFromSchema(loop.definition.inputSchema),
    canRun: can(actor, "run", loop.realm),
    canEdit: can(actor, "edit", loop.realm),
  };
}

export const compareLoopRevisionsSchema = z.object({
  loopId: z.string().min(1).max(100),
  a: z.coerce.number().int().positive().optional().catch(undefined),
  b: z.coerce.number().int().positive().optional().catch(undefined),
});
export type CompareLoopRevisionsInput = z.input<typeof compareLoopRevisionsSchema>;

export interface LoopRevisionComparison {
  loop: RegisteredLoop;
  /** Every revision number, newest first, for choosing another pair. */
  revisions: number[];
  a: LoopRevisionSummary;
  b: LoopRevisionSummary;
  diff: LineDiff;
}

/**
 * Two revisions of a loop of a realm the caller can view, with a line diff of their definitions.
 * Revision numbers that the loop does not have fall back to the previous and current revision,
 * so a stale link still shows something useful.
 */
export async function compareLoopRevisions(deps: { db: Db }, actor: Actor, raw: CompareLoopRevisionsInput): Promise<LoopRevisionComparison> {
  const parsed = compareLoopRevisionsSchema.safeParse(raw);
  if (!parsed.success) throw new AppError("not_found", "Loop does not exist");
  const { loopId, a: askedA, b: askedB } = parsed.data;
  const scope = scopeFor(actor, "view");
  const loop = await selectLoop(deps.db, { loopId, scope });
  if (!loop) throw new AppError("not_found", `Loop "${loopId}" does not exist`);
  const revisions = await listLoopRevisions(deps.db, { loopId, scope });
  const numbers = revisions.map((r) => r.revision);
  const pair = pickRevisionPair(numbers, { a: askedA, b: askedB });
  const a = revisions.find((r) => r.revision === pair?.a);
  const b = revisions.find((r) => r.revision === pair?.b);
  if (!a || !b) throw new AppError("not_found", `Loop "${loopId}" has no revisions`);
  const summary = ({ revision, hash, createdBy, createdAt }: LoopRevisionSummary): LoopRevisionSummary => ({ revision, hash, createdBy, createdAt });
  return { loop, revisions: numbers, a: summary(a), b: summary(b), diff: diffDefinitions(a.definition, b.definition) };
}

type Schema = { type?: unknown; properties?: unknown; items?: unknown; enum?: unknown; default?: unknown; examples?: unknown; const?: unknown };

/**
 * A value shaped like the schema: defaults, examples, constants and enums when the schema
 * gives them, otherwise an empty value of each property's type. Bounded in depth so a
 * recursive schema cannot loop.
 */
export function sampleFromSchema(schema: unknown, depth = 0): unknown {
  if (!schema || typeof schema !== "object" || depth > 6) return depth === 0 ? {} : null;
  const s = schema as Schema;
  if (s.default !== undefined) return s.default;
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
  switch (type) {
    case "string":
      return "";
    case "number":
    case "integer":
      return 0;
    case "boolean":
      return false;
    case "array":
      return [];
    case "null":
      return null;
    case "object":
    default: {
      if (!s.properties || typeof s.properties !== "object") return type === "object" || depth === 0 ? {} : null;
      return Object.fromEntries(Object.entries(s.properties as Record<string, unknown>).map(([key, value]) => [key, sampleFromSchema(value, depth + 1)]));
    }
  }
}
