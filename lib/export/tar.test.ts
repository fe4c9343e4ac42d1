import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { ArchiveError, ArchiveTooLargeError, extractTarGz, tarGzStream, tarHeader, type TarEntry } from "./tar";

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

  it("stops at its limits, checked on each header before anything of that entry is written", async () => {
    const file = (name: string, size: number): TarEntry => ({ type: "file", name, mtime, size, source: { data: Buffer.alloc(size, 0x61) } });
    const limits = { maxEntries: 4, maxTotalBytes: 3000, maxFileBytes: (path: string) => (path.endsWith(".json") ? 100 : 2000), maxTrailingBytes: 1024 * 1024 };
    const extractWith = async (archive: string) => {
      const out = mkdtempSync(join(dir, "limited-"));
      const error = await extractTarGz(archive, out, limits).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ArchiveTooLargeError);
      return { message: (error as ArchiveTooLargeError).message, out };
    };

    const many = await writeArchive("many.tar.gz", [{ type: "directory", name: "bundle/", mtime }, ...[1, 2, 3, 4].map((i) => file(`bundle/${i}.txt`, 1))]);
    const tooMany = await extractWith(many);
    expect(tooMany.message).toBe("archive: too large: more than 4 entries");
    expect(existsSync(join(tooMany.out, "bundle", "3.txt"))).toBe(true);
    expect(existsSync(join(tooMany.out, "bundle", "4.txt"))).toBe(false);

    const bigJson = await extractWith(await writeArchive("big-json.tar.gz", [file("bundle/manifest.json", 101)]));
    expect(bigJson.message).toBe('archive: too large: "bundle/manifest.json" holds 101 bytes, more than the 100 bytes such a file may');
    expect(existsSync(join(bigJson.out, "bundle", "manifest.json"))).toBe(false);

    const bigData = await extractWith(await writeArchive("big-data.tar.gz", [file("bundle/frames.jsonl", 2001)]));
    expect(bigData.message).toBe('archive: too large: "bundle/frames.jsonl" holds 2,001 bytes, more than the 2,000 bytes such a file may');

    const total = await extractWith(await writeArchive("total.tar.gz", [file("bundle/a.jsonl", 1500), file("bundle/b.jsonl", 1500), file("bundle/c.jsonl", 1)]));
    expect(total.message).toBe('archive: too large: its files hold more than 3,000 bytes in all ("bundle/c.jsonl" goes past it)');
    expect(existsSync(join(total.out, "bundle", "c.jsonl"))).toBe(false);

    // A valid archive followed by megabytes of zeros: inflated, never read, still bounded.
    const padded = join(dir, "padded.tar.gz");
    const tar = Buffer.concat([tarHeader(file("bundle/a.txt", 0)), Buffer.alloc(1024), Buffer.alloc(2 * 1024 * 1024)]);
    writeFileSync(padded, gzipSync(tar));
    expect((await extractWith(padded)).message).toBe("archive: too large: more than 1 MiB after the end of the archive");
    // Within the limits, the same archives extract.
    expect(await extractTarGz(many, mkdtempSync(join(dir, "out-")), { ...limits, maxEntries: 5 })).toHaveLength(4);
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
