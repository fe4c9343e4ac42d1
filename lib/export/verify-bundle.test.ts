import { spawnSync } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { tarGzStream, type TarEntry } from "./tar";
import { BUNDLE_EXTRACT_LIMITS, BUNDLE_MAX_ENTRIES, verifyBundle } from "./verify-bundle";
import { MAX_METADATA_BYTES } from "./verify.mjs";

const work = mkdtempSync(join(tmpdir(), "loopstacks-verify-limits-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const mtime = new Date("2026-03-04T05:06:07Z");
const folder = "loopstacks-bundle-run-x-20260304T050607Z";

async function archive(name: string, entries: TarEntry[]): Promise<string> {
  const path = join(work, name);
  await pipeline(tarGzStream(entries), createWriteStream(path));
  return path;
}

/** A file of `size` zero bytes that takes no disk space. */
function sparse(name: string, size: number): string {
  const path = join(work, name);
  writeFileSync(path, "");
  truncateSync(path, size);
  return path;
}

describe("verifying an archive that inflates past a bundle's size", () => {
  // verifyBundle extracts under the OS temp folder: point it at one of this test's own to see it emptied.
  let scratch: string;
  const previousTmp = process.env.TMPDIR;
  beforeEach(() => {
    scratch = mkdtempSync(join(work, "scratch-"));
    process.env.TMPDIR = scratch;
  });
  afterEach(() => {
    if (previousTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmp;
  });

  it("stops a 200 MB manifest.json at the 4 MiB a manifest may hold, without reading it, and removes what it extracted", async () => {
    const size = 200 * 1024 * 1024;
    const bomb = await archive("bomb.tar.gz", [
      { type: "directory", name: `${folder}/`, mtime },
      { type: "file", name: `${folder}/manifest.json`, mtime, size, source: { path: sparse("zeros", size) } },
    ]);
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const result = await verifyBundle(bomb);
    expect(result).toEqual({
      ok: false,
      manifest: null,
      problems: [
        `archive: bundle too large: "${folder}/manifest.json" holds 200 MiB, more than the 4 MiB such a file may (to check a bigger bundle you trust, extract it with tar and verify the folder)`,
      ],
    });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * 1024 * 1024);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it("refuses more entries or more bytes than a bundle has, before writing past the limit", async () => {
    const many = await archive("many.tar.gz", [
      { type: "directory", name: `${folder}/`, mtime },
      ...Array.from({ length: BUNDLE_MAX_ENTRIES }, (_, i): TarEntry => ({ type: "file", name: `${folder}/f${i}.txt`, mtime, size: 1, source: { data: Buffer.from("x") } })),
    ]);
    expect((await verifyBundle(many)).problems).toEqual([`archive: bundle too large: more than ${BUNDLE_MAX_ENTRIES} entries (to check a bigger bundle you trust, extract it with tar and verify the folder)`]);
    expect(readdirSync(scratch)).toEqual([]);

    // The data-file and total limits are gigabytes; the same checks, at a scale a test can write.
    const limits = { ...BUNDLE_EXTRACT_LIMITS, maxTotalBytes: 64 * 1024 };
    const big = await archive("big.tar.gz", [
      { type: "file", name: `${folder}/runs.jsonl`, mtime, size: 40 * 1024, source: { path: sparse("40k", 40 * 1024) } },
      { type: "file", name: `${folder}/frames.jsonl`, mtime, size: 40 * 1024, source: { path: sparse("40k", 40 * 1024) } },
    ]);
    expect((await verifyBundle(big, { limits })).problems[0]).toMatch(/^archive: bundle too large: its files hold more than 65,536 bytes in all \("[^"]+\/frames\.jsonl" goes past it\)/);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it("reads no metadata file whole that is larger than a bundle's, or not a regular file, in an extracted folder too", async () => {
    const dir = join(work, "folder", folder);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "manifest.json"), "");
    truncateSync(join(dir, "manifest.json"), MAX_METADATA_BYTES + 1);
    symlinkSync("/dev/zero", join(dir, "SHA256SUMS"));
    const result = await verifyBundle(dir);
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual(
      expect.arrayContaining([
        `manifest.json: too large: ${MAX_METADATA_BYTES + 1} bytes, where a bundle's manifest.json holds at most ${MAX_METADATA_BYTES}; not read`,
        "SHA256SUMS: not a regular file",
      ]),
    );
    // The bundle's own copy, run by an auditor, says the same.
    const node = spawnSync(process.execPath, [new URL("./verify.mjs", import.meta.url).pathname, dir], { encoding: "utf8" });
    expect(node.status).toBe(1);
    expect(node.stdout).toContain("manifest.json: too large");
  });
});
