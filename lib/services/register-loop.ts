import { z } from "zod";
import type { Db } from "../../db/client";
import { getLoop } from "../../db/queries/loops";
import { AppError, type AppErrorIssue } from "../errors";
import { isLoopRefTool, parseLoopDefinition, type LoopDefinition } from "../runtime/definition";
import type { Registry } from "../runtime/registry";
import { can, scopeFor, type Actor } from "./actor";

export const registerLoopSchema = z.object({ definition: z.unknown() });
export type RegisterLoopInput = z.input<typeof registerLoopSchema>;

export interface RegisterLoopResult {
  loopId: string;
  revision: number;
  /** false when the definition equals the current revision. */
  changed: boolean;
  promptVersion: number | null;
}

/**
 * Registers a loop or a new revision of one, from the console or the API. Maintainers and admins
 * of the loop's realm may; a loop that starts a process on the server (an MCP server over stdio)
 * is refused whatever the role: its command would run with the server's own privileges (its
 * environment, its keys, every realm's data), which no realm role grants. Such loops are
 * registered from the server itself, with `loopstacks apply`.
 */
export async function registerLoop(deps: { db: Db; registry: Registry }, actor: Actor, raw: RegisterLoopInput): Promise<RegisterLoopResult> {
  const definition = parseLoopDefinition(registerLoopSchema.parse(raw).definition);
  if (!can(actor, "edit", definition.realm)) {
    // The same answer whether or not the realm exists.
    throw new AppError("forbidden", `You cannot register loops in realm "${definition.realm}"`, {
      issues: [{ path: "realm", message: "you are not a maintainer of this realm" }],
    });
  }
  if (startsLocalProcess(definition)) {
    throw new AppError(
      "forbidden",
      "A loop that starts a process on the server (MCP over stdio) is registered on the server itself, with `loopstacks apply`; the console and the API refuse it for every role",
      { issues: [{ path: definition.type === "mcp" ? "mcp.server.transport" : "llm.tools", message: "stdio MCP servers are registered with `loopstacks apply`" }] },
    );
  }

  const existing = await getLoop(deps.db, { loopId: definition.id, scope: "all" });
  if (existing && !can(actor, "view", existing.realm)) {
    // Loop ids are global; say the id is taken without naming the realm that holds it.
    throw new AppError("conflict", `The loop id "${definition.id}" is not available; choose another`, {
      issues: [{ path: "id", message: "already in use" }],
    });
  }

  const issues: AppErrorIssue[] = [];
  if (definition.type === "llm") {
    const scope = scopeFor(actor, "view");
    for (const [i, tool] of definition.llm.tools.entries()) {
      if (!isLoopRefTool(tool) || tool.loopRef === definition.id) continue;
      // A child loop the caller cannot see "does not exist", exactly as when it does not.
      if (!(await getLoop(deps.db, { loopId: tool.loopRef, scope }))) {
        issues.push({ path: `llm.tools[${i}].loopRef`, message: `loop "${tool.loopRef}" does not exist` });
      }
    }
  }
  if (issues.length > 0) {
    throw new AppError("invalid_definition", `Invalid loop definition "${definition.id}":\n${issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`, { issues });
  }

  const result = await deps.registry.register(definition, {
    actor: { subject: actor.identity.subject, kind: actor.identity.kind, source: actor.identity.source },
  });
  return { loopId: result.loop.id, revision: result.revision, changed: result.changed, promptVersion: result.promptVersion };
}

function startsLocalProcess(definition: LoopDefinition): boolean {
  if (definition.type === "mcp") return definition.mcp.server.transport === "stdio";
  if (definition.type === "llm") return definition.llm.tools.some((tool) => !isLoopRefTool(tool) && tool.mcp.server.transport === "stdio");
  return false;
}
