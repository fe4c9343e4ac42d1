import { z } from "zod";
import type { Db } from "../../../db/client";
import { auditActorOf, type AuditEventInput } from "../../../db/queries/audit";
import { getLoop } from "../../../db/queries/loops";
import { AppError } from "../../errors";
import type { RegisteredLoop } from "../../runtime/types";
import { assertCan, scopeFor, type Actor, type Permission } from "../actor";

export const loopIdField = z.string().trim().min(1).max(100);
export const versionField = z.coerce.number().int().positive().max(1_000_000);
export const reasonField = z.string().trim().min(1, "Say why").max(2000);

/**
 * The LLM loop a prompt use case works on, after checking the caller's role in its realm.
 * A loop of a realm the caller cannot view does not exist for them.
 */
export async function findPromptLoop(db: Db, actor: Actor, loopId: string, permission: Permission): Promise<RegisteredLoop> {
  const loop = await getLoop(db, { loopId, scope: scopeFor(actor, "view") });
  if (!loop) throw new AppError("not_found", `Loop "${loopId}" does not exist`);
  assertCan(actor, permission, loop.realm, `Loop "${loopId}"`);
  if (loop.type !== "llm") {
    throw new AppError("invalid_request", `Loop "${loopId}" is an ${loop.type} loop; only LLM loops have prompt versions`);
  }
  return loop;
}

/** Parses a use case's input, or fails with `invalid_input` naming every problem. */
export function parseInput<Schema extends z.ZodType>(schema: Schema, raw: unknown): z.output<Schema> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message }));
  throw new AppError("invalid_input", issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("\n"), { issues });
}

/** Who an audit event names for a request's actor. */
export function auditActor(actor: Actor): AuditEventInput["actor"] {
  return auditActorOf(actor.identity);
}

/** Drizzle's transaction handle, used with the same query functions as the database. */
export function inTransaction<T>(db: Db, work: (tx: Db) => Promise<T>): Promise<T> {
  return db.transaction((tx) => work(tx as unknown as Db));
}
