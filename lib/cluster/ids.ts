import { createHash } from "node:crypto";

/** The namespace of every id the cluster derives (RFC 4122 name-based, SHA-1: version 5). */
const NAMESPACE = Buffer.from("5d0c4f0e8f2b4f3a9b8e6a1c2d3e4f50", "hex");

/**
 * A UUID v5 of `parts` joined by "/". Retried steps derive the same ids, so inserting a child
 * frame or enqueuing a follow-up job twice is a no-op rather than a duplicate.
 */
export function derivedId(...parts: string[]): string {
  const hash = createHash("sha1").update(NAMESPACE).update(parts.join("/")).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The frame a parent's `tool_use` spawns: the same on every worker that replays the turn. */
export function childFrameId(parentFrameId: string, toolUseId: string): string {
  return derivedId("frame", parentFrameId, toolUseId);
}
