import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import type { BundleManifest } from "./manifest";
import { ArchiveError, ArchiveTooLargeError, extractTarGz, type ExtractLimits } from "./tar";
import { MAX_METADATA_BYTES, METADATA_FILES, verifyBundleDirectory, type VerifyOptions } from "./verify.mjs";

const GiB = 1024 ** 3;
/** Entries in a bundle archive: a real one holds 12 (its folder and 11 files). */
export const BUNDLE_MAX_ENTRIES = 64;
/**
 * Bytes of one data file (`frames.jsonl`, `report.html` …). Frames take about 1–2 KB each (a
 * 40,000-frame run archives to 4 MB), so this is millions of frames; the metadata files, read
 * whole, hold at most `MAX_METADATA_BYTES` (4 MiB) each.
 */
export const BUNDLE_MAX_FILE_BYTES = 4 * GiB;
/** Bytes of all a bundle's files together. */
export const BUNDLE_MAX_TOTAL_BYTES = 8 * GiB;

/** What `verifyBundle` extracts from an archive at most; past it the bundle fails as too large before more is written. */
export const BUNDLE_EXTRACT_LIMITS: ExtractLimits = {
  maxEntries: BUNDLE_MAX_ENTRIES,
  maxTotalBytes: BUNDLE_MAX_TOTAL_BYTES,
  maxFileBytes: (path) => (METADATA_FILES.includes(posix.basename(path)) ? MAX_METADATA_BYTES : BUNDLE_MAX_FILE_BYTES),
  maxTrailingBytes: 1024 * 1024,
};

export interface BundleVerification {
  ok: boolean;
  problems: string[];
  manifest: BundleManifest | null;
}

/** A bundle folder is the one holding `manifest.json`: the given folder, or its only subfolder. */
function findBundleRoot(dir: string): string | null {
  if (existsSync(join(dir, "manifest.json"))) return dir;
  const entries = readdirSync(dir, { withFileTypes: true });
  const folders = entries.filter((e) => e.isDirectory());
  if (folders.length === 1 && entries.length === 1) {
    const inner = join(dir, folders[0]!.name);
    if (existsSync(join(inner, "manifest.json"))) return inner;
  }
  return null;
}

/**
 * Verifies a bundle archive (`.tar.gz`) or an extracted bundle folder with the very verifier
 * each bundle carries (`verify.mjs`), so the product and the auditor check the same things.
 */
export async function verifyBundle(path: string, options: VerifyOptions & { limits?: ExtractLimits } = {}): Promise<BundleVerification> {
  const { limits = BUNDLE_EXTRACT_LIMITS, ...verifyOptions } = options;
  if (!existsSync(path)) return { ok: false, problems: [`${path}: no such file or folder`], manifest: null };
  if (statSync(path).isDirectory()) {
    const root = findBundleRoot(path);
    if (!root) return { ok: false, problems: [`${path}: no manifest.json in this folder or its only subfolder`], manifest: null };
    return verifyBundleDirectory(root, verifyOptions);
  }
  const workDir = await mkdtemp(join(tmpdir(), "loopstacks-verify-"));
  try {
    try {
      await extractTarGz(path, workDir, limits);
    } catch (error) {
      if (error instanceof ArchiveTooLargeError) {
        const problem = `archive: bundle too large: ${error.detail} (to check a bigger bundle you trust, extract it with tar and verify the folder)`;
        return { ok: false, problems: [problem], manifest: null };
      }
      if (error instanceof ArchiveError) return { ok: false, problems: [error.message], manifest: null };
      throw error;
    }
    const root = findBundleRoot(workDir);
    if (!root) return { ok: false, problems: ["archive: holds no bundle folder with a manifest.json"], manifest: null };
    return await verifyBundleDirectory(root, verifyOptions);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
