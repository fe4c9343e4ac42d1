import { z } from "zod";
import type { Db } from "../../db/client";
import { listLoops as selectLoops } from "../../db/queries/loops";
import type { LoopType } from "../runtime/definition";
import { can, realmsFor, scopeFor, type Actor } from "./actor";

/** Every loop type, for filters. */
export const LOOP_TYPES = ["llm", "mcp", "http"] as const satisfies readonly LoopType[];

/** Filters come from a URL: an empty or unknown value means "no filter". */
export const listLoopsSchema = z.object({
  search: z.string().trim().max(200).optional().catch(undefined),
  realm: z.string().trim().max(100).optional().catch(undefined),
  type: z.enum(LOOP_TYPES).optional().catch(undefined),
});
export type ListLoopsInput = z.input<typeof listLoopsSchema>;

export interface LoopSummary {
  id: string;
  realm: string;
  type: LoopType;
  description: string;
  revision: number;
  activePromptVersion: number | null;
  updatedAt: string;
  canRun: boolean;
}

export interface LoopList {
  loops: LoopSummary[];
  /** The realms the caller may filter by: the ones they can view. */
  realms: string[];
}

const LIST_LIMIT = 500;

/** Loops of the realms the caller can view, matching the filters. */
export async function listLoops(deps: { db: Db }, actor: Actor, raw: ListLoopsInput): Promise<LoopList> {
  const input = listLoopsSchema.parse(raw);
  const realms = realmsFor(actor, "view");
  const rows = await selectLoops(deps.db, {
    scope: scopeFor(actor, "view"),
    ...(input.search ? { search: input.search } : {}),
    ...(input.realm ? { realm: input.realm } : {}),
    ...(input.type ? { type: input.type } : {}),
    limit: LIST_LIMIT,
  });
  return {
    realms,
    loops: rows.map((loop) => ({
      id: loop.id,
      realm: loop.realm,
      type: loop.type,
      description: loop.description,
      revision: loop.revision,
      activePromptVersion: loop.activePromptVersion,
      updatedAt: loop.updatedAt,
      canRun: can(actor, "run", loop.realm),
    })),
  };
}
