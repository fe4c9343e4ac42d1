import { canonicalJson, sha256Hex } from "../canonical-json";
import type { PayloadMode } from "./manifest";
import type { AuditRow, FrameRow, PromotionRow, PromptRow, RunRow } from "./queries";
import { toAuditEvent } from "../../db/queries/audit";

/**
 * One record per JSONL line. Lines are canonical JSON (keys sorted, no whitespace), so the same
 * data always produces the same bytes.
 */

/** A value an auditor can check against a disclosed original: SHA-256 of its canonical JSON. */
export interface HashedValue {
  sha256: string;
}

export function hashValue(value: unknown): HashedValue {
  return { sha256: sha256Hex(canonicalJson(value ?? null)) };
}

function payload(value: unknown, mode: PayloadMode): unknown {
  return mode === "hashed" ? hashValue(value) : (value ?? null);
}

/**
 * Error messages can quote inputs (a URL built from a template, a validation message), so in
 * hashed mode only the error's code and flags stay readable.
 */
function errorRecord(error: Record<string, unknown> | null | undefined, mode: PayloadMode): Record<string, unknown> | null {
  if (!error) return null;
  if (mode === "raw") return error;
  const { message, details, ...rest } = error;
  return { ...rest, message: hashValue(message), ...(details !== undefined ? { details: hashValue(details) } : {}) };
}

function attemptsRecord(attempts: Record<string, unknown>[], mode: PayloadMode): Record<string, unknown>[] {
  if (mode === "raw") return attempts;
  return attempts.map((a) => (a.error ? { ...a, error: errorRecord(a.error as Record<string, unknown>, mode) } : a));
}

export function runRecord(run: RunRow, mode: PayloadMode): Record<string, unknown> {
  return {
    id: run.id,
    realmId: run.realmId,
    loopId: run.loopId,
    loopRevision: run.loopRevision,
    status: run.status,
    caller: run.caller,
    identity: run.identity,
    input: payload(run.input, mode),
    output: payload(run.output, mode),
    error: errorRecord(run.error, mode),
    frameCount: run.frameCount,
    usage: { inputTokens: run.inputTokens, outputTokens: run.outputTokens },
    createdAt: run.createdAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    endedAt: run.endedAt?.toISOString() ?? null,
    payloads: mode,
  };
}

export function frameRecord(frame: FrameRow, mode: PayloadMode): Record<string, unknown> {
  const choice = frame.promptChoice as { reason?: string } | null;
  return {
    runId: frame.runId,
    seq: frame.seq,
    id: frame.id,
    parentFrameId: frame.parentFrameId,
    parentToolCallId: frame.parentToolCallId,
    depth: frame.depth,
    loop: { id: frame.loopId, revision: frame.loopRevision, type: frame.loopType, realm: frame.realmId },
    prompt: frame.promptVersion === null ? null : { version: frame.promptVersion, reason: choice?.reason ?? "active", choice: frame.promptChoice },
    model: frame.model,
    status: frame.status,
    identity: frame.identity,
    authorization: frame.authorization,
    attempts: attemptsRecord(frame.attempts, mode),
    input: payload(frame.input, mode),
    output: payload(frame.output, mode),
    error: errorRecord(frame.error, mode),
    usage: { inputTokens: frame.inputTokens, outputTokens: frame.outputTokens },
    turns: frame.turns,
    toolCalls: frame.toolCalls.map((c) => ({
      id: c.id,
      turn: c.turn,
      position: c.position,
      name: c.name,
      kind: c.kind,
      input: payload(c.input, mode),
      output: payload(c.output, mode),
      isError: c.isError,
      childFrameId: c.childFrameId,
      startedAt: c.startedAt,
      endedAt: c.endedAt,
      durationMs: c.durationMs,
    })),
    createdAt: frame.createdAt.toISOString(),
    startedAt: frame.startedAt?.toISOString() ?? null,
    endedAt: frame.endedAt?.toISOString() ?? null,
    durationMs: frame.durationMs,
    payloads: mode,
  };
}

/**
 * A prompt version with every move of the active label to or from it. The text of a prompt
 * that belongs to a realm outside the exporter's reach is replaced by its hash.
 */
export function promptRecord(prompt: PromptRow, promotions: readonly PromotionRow[], isTextVisible: boolean): Record<string, unknown> {
  return {
    loopId: prompt.loopId,
    realmId: prompt.realmId,
    version: prompt.version,
    systemPrompt: isTextVisible ? prompt.systemPrompt : hashValue(prompt.systemPrompt),
    params: prompt.params,
    author: prompt.author,
    message: prompt.message,
    createdAt: prompt.createdAt.toISOString(),
    promotions: promotions
      .filter((p) => p.toVersion === prompt.version || p.fromVersion === prompt.version)
      .map((p) => ({
        id: p.id,
        kind: p.kind,
        fromVersion: p.fromVersion,
        toVersion: p.toVersion,
        actor: p.actor,
        reason: p.reason,
        createdAt: p.createdAt.toISOString(),
      })),
  };
}

/** In-scope events in full; others keep only their place and links in the chain. */
export function auditRecord(row: AuditRow): Record<string, unknown> {
  if (!row.inScope) return { seq: row.seq, prevHash: row.prevHash, hash: row.hash, withheld: true };
  return { ...toAuditEvent(row) };
}

export function jsonLine(record: unknown): string {
  return `${canonicalJson(record)}\n`;
}
