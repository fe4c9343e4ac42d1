import { sign, type KeyObject } from "node:crypto";
import type { Identity } from "../runtime/types";

export type PayloadMode = "raw" | "hashed";

export type ExportScope = { kind: "run"; runId: string } | { kind: "realm"; realmId: string; from: Date; to: Date };

/** The scope as written into the manifest: dates as ISO-8601, the range half-open `[from, to)`. */
export type ManifestScope = { kind: "run"; runId: string; realmId: string } | { kind: "realm"; realmId: string; from: string; to: string };

export interface ManifestFile {
  name: string;
  sha256: string;
  size: number;
  /** Lines in a JSONL file; absent for files that are not records. */
  records?: number;
}

/** The contiguous stretch of the audit hash chain the bundle carries. */
export interface ManifestAuditChain {
  firstSeq: number;
  lastSeq: number;
  /** The `prevHash` of the first event: where the segment hooks into the chain before it. */
  firstPrevHash: string;
  /** The `hash` of the last event in the segment. */
  headHash: string;
  events: number;
  /** Events shown in full; the rest are withheld (outside the scope) and carry only their links. */
  inScopeEvents: number;
  withheldEvents: number;
}

export interface BundleManifest {
  format: "loopstacks-compliance-bundle";
  formatVersion: 1;
  bundle: string;
  scope: ManifestScope;
  exporter: Identity;
  exportedAt: string;
  software: { name: "loopstacks"; version: string };
  /** How each realm's inputs and outputs appear: verbatim, or as the SHA-256 of their canonical JSON. */
  payloads: Record<string, PayloadMode>;
  runs: number;
  frames: number;
  files: ManifestFile[];
  auditChain: ManifestAuditChain | null;
  signingKeyId: string;
}

/** The manifest's exact bytes: what the signature covers and what the archive holds. */
export function serializeManifest(manifest: BundleManifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, "utf8");
}

/** Ed25519 over the exact manifest bytes, base64 with a trailing newline. */
export function signManifest(bytes: Buffer, privateKey: KeyObject): Buffer {
  return Buffer.from(`${sign(null, bytes, privateKey).toString("base64")}\n`, "ascii");
}

/** The `sha256sum` format: two spaces between hash and name, one file per line. */
export function formatChecksums(files: readonly { name: string; sha256: string }[]): Buffer {
  return Buffer.from(files.map((f) => `${f.sha256}  ${f.name}\n`).join(""), "utf8");
}
