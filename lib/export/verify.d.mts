import type { KeyObject } from "node:crypto";
import type { BundleManifest } from "./manifest";
import type { PublicKeysDocument } from "./signing-keys";

export declare const BUNDLE_FORMAT: "loopstacks-compliance-bundle";
export declare const BUNDLE_FORMAT_VERSION: 1;
export declare const MANIFEST: "manifest.json";
export declare const SIGNATURE: "manifest.sig";
export declare const PUBLIC_KEY: "public-key.pem";
export declare const CHECKSUMS: "SHA256SUMS";
export declare const METADATA_FILES: readonly string[];
export declare const MAX_METADATA_BYTES: number;

export declare function canonicalJson(value: unknown): string;
export declare function sha256Hex(data: string | Uint8Array): string;
export declare function auditHashInput(event: {
  seq: number;
  at: string;
  action: string;
  outcome: string;
  actor: unknown;
  realmId: string | null;
  targetType: string | null;
  targetId: string | null;
  data: unknown;
  prevHash: string;
}): string;
export declare function keyIdOf(publicKey: KeyObject): string;

export interface VerifyOptions {
  /** The instance's well-known keys document; pins who may have signed. */
  trustedKeys?: PublicKeysDocument;
  trustedKeyIds?: string[];
}

export interface DirectoryVerification {
  ok: boolean;
  problems: string[];
  manifest: BundleManifest | null;
}

export declare function verifyBundleDirectory(dir: string, options?: VerifyOptions): Promise<DirectoryVerification>;
