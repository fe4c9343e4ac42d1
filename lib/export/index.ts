/**
 * Compliance bundles: signed, self-verifying archives of runs, frames, prompt versions and the
 * audit chain. Framework-free; configuration (instance secret, version, temp folder) is passed in.
 */
export { exportBundle, exportBundleSchema, type ExportBundleDeps, type ExportBundleInput } from "./export-bundle";
export type { BundleManifest, ExportScope, ManifestAuditChain, ManifestFile, ManifestScope, PayloadMode } from "./manifest";
export {
  buildPublicKeysDocument,
  getOrCreateSigningKey,
  getPublicKey,
  listPublicKeys,
  loadOrCreateInstanceSecret,
  rotateSigningKey,
  signingKeyId,
  type InstanceSecret,
  type PublicKeysDocument,
  type PublicSigningKey,
  type SigningKey,
} from "./signing-keys";
export { verifyBundle, type BundleVerification } from "./verify-bundle";
export { WELL_KNOWN_KEYS_PATH } from "./verify-doc";
export { prepareBundle, writeBundleFile, type PrepareBundleParams, type PreparedBundle } from "./write-bundle";
