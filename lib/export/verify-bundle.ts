import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BundleManifest } from "./manifest";
import { ArchiveError, extractTarGz } from "./tar";
import { verifyBundleDirectory, type VerifyOptions } from "./verify.mjs";

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
export async function verifyBundle(path: string, options: VerifyOptions = {}): Promise<BundleVerification> {
  if (!existsSync(path)) return { ok: false, problems: [`${path}: no such file or folder`], manifest: null };
  if (statSync(path).isDirectory()) {
    const root = findBundleRoot(path);
    if (!root) return { ok: false, problems: [`${path}: no manifest.json in this folder or its only subfolder`], manifest: null };
    return verifyBundleDirectory(root, options);
  }
  const workDir = await mkdtemp(join(tmpdir(), "loopstacks-verify-"));
  try {
    try {
      await extractTarGz(path, workDir);
    } catch (error) {
      if (error instanceof ArchiveError) return { ok: false, problems: [error.message], manifest: null };
      throw error;
    }
    const root = findBundleRoot(workDir);
    if (!root) return { ok: false, problems: ["archive: holds no bundle folder with a manifest.json"], manifest: null };
    return await verifyBundleDirectory(root, options);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
