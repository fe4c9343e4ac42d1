import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { ArchiveError, extractTarGz, tarGzStream, tarHeader, type TarEntry } from "./tar";

const dir = mkdtempSync(join(tmpdir(), "loopstacks-tar-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const mtime = new Date("2026-03-04T05:06:07Z");
/** 95 bytes: every file path inside it is longer than the 100-byte name field. */
const longFolder = `loopstacks-bundle-realm-${"a".repeat(54)}-20260304T050607Z`;

async function writeArchive(name: string, entries: TarEntry[]): Promise<string> {
  const path = join(dir, name);
  await pipeline(tarGzStream(entries), createWriteStream(path));
  return path;
}

async function extractError(archive: string): Promise<string> {
  const error = await extractTarGz(archive, mkdtempSync(join(dir, "out-"))).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ArchiveError);
  return (error as ArchiveError).message;
}

describe("ustar archives", () => {
  const big = randomBytes(512 * 3 + 17);
  const exact = randomBytes(1024);
  writeFileSync(join(dir, "big.bin"), big);

  const entries: TarEntry[] = [
    { type: "directory", name: `${longFolder}/`, mtime },
    { type: "file", name: `${longFolder}/empty.txt`, mtime, size: 0, source: { data: Buffer.alloc(0) } },
    { type: "file", name: `${longFolder}/exact.bin`, mtime, size: exact.length, source: { data: exact } },
    { type: "file", name: `${longFolder}/big.bin`, mtime, size: big.length, source: { path: join(dir, "big.bin") } },
  ];

  it("round-trips files of every size, with paths longer than 100 bytes", async () => {
    expect(longFolder).toHaveLength(95);
    const archive = await writeArchive("round.tar.gz", entries);
    const out = mkdtempSync(join(dir, "out-"));
    const names = await extractTarGz(archive, out);
    expect(names).toEqual([`${longFolder}/empty.txt`, `${longFolder}/exact.bin`, `${longFolder}/big.bin`]);
    expect(readFileSync(join(out, longFolder, "big.bin")).equals(big)).toBe(true);
    expect(readFileSync(join(out, longFolder, "exact.bin")).equals(exact)).toBe(true);
    expect(statSync(join(out, longFolder, "empty.txt")).size).toBe(0);
  });

  it("is read by the system tar", async () => {
    const archive = await writeArchive("system.tar.gz", entries);
    const listing = spawnSync("tar", ["-tzvf", archive], { encoding: "utf8" });
    expect(listing.status).toBe(0);
    expect(listing.stdout).toContain(`${longFolder}/big.bin`);
    expect(listing.stdout).toMatch(new RegExp(`-rw-r--r-- .* ${big.length} 2026-03-04 05:06 ${longFolder}/big.bin`));
    const out = mkdtempSync(join(dir, "sys-"));
    expect(spawnSync("tar", ["-xzf", archive, "-C", out]).status).toBe(0);
    expect(readFileSync(join(out, longFolder, "big.bin")).equals(big)).toBe(true);
  });

  it("reports a truncated gzip stream and a tar stream that stops early", async () => {
    const archive = await writeArchive("cut.tar.gz", entries);
    truncateSync(archive, Math.floor(statSync(archive).size / 2));
    expect(await extractError(archive)).toBe("archive: truncated (the gzip stream ends early)");

    // A complete gzip stream around a tar that stops inside a file.
    const header = tarHeader({ type: "file", name: "bundle/a.txt", mtime, size: 2000, source: { data: Buffer.alloc(0) } });
    const shortTar = join(dir, "short.tar.gz");
    writeFileSync(shortTar, gzipSync(Buffer.concat([header, Buffer.alloc(700, 0x61)])));
    expect(await extractError(shortTar)).toBe("archive: truncated inside bundle/a.txt (1300 bytes missing)");

    const noEnd = join(dir, "noend.tar.gz");
    writeFileSync(noEnd, gzipSync(tarHeader({ type: "directory", name: "bundle/", mtime })));
    expect(await extractError(noEnd)).toBe("archive: truncated (no end-of-archive marker)");
  });

  it("refuses corrupt headers, unsafe paths and links", async () => {
    const header = tarHeader({ type: "file", name: "bundle/a.txt", mtime, size: 0, source: { data: Buffer.alloc(0) } });
    header[10] = 0x7a;
    const corrupt = join(dir, "corrupt.tar.gz");
    writeFileSync(corrupt, gzipSync(Buffer.concat([header, Buffer.alloc(1024)])));
    expect(await extractError(corrupt)).toBe("archive: header 1 is corrupt (checksum mismatch)");

    const escape = join(dir, "escape.tar.gz");
    writeFileSync(escape, gzipSync(Buffer.concat([tarHeader({ type: "file", name: "../outside.txt", mtime, size: 0, source: { data: Buffer.alloc(0) } }), Buffer.alloc(1024)])));
    expect(await extractError(escape)).toBe('archive: entry "../outside.txt" has an unsafe path');

    const link = tarHeader({ type: "file", name: "bundle/link", mtime, size: 0, source: { data: Buffer.alloc(0) } });
    link[156] = 0x32; // symlink
    let sum = 0;
    link.fill(0x20, 148, 156);
    for (const b of link) sum += b;
    link.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    const linkArchive = join(dir, "link.tar.gz");
    writeFileSync(linkArchive, gzipSync(Buffer.concat([link, Buffer.alloc(1024)])));
    expect(await extractError(linkArchive)).toBe('archive: entry "bundle/link" is not a regular file or directory (type "2")');

    const notGzip = join(dir, "plain.tar.gz");
    writeFileSync(notGzip, "this is not gzip at all");
    expect(await extractError(notGzip)).toMatch(/^archive: not a valid gzip file/);
  });
});
