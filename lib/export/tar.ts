import { closeSync, createReadStream, mkdirSync, openSync, writeSync } from "node:fs";
import { join, normalize, sep } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";

/**
 * A minimal POSIX ustar writer and reader: regular files and directories only, which is all a
 * bundle holds. Entries stream from disk, so an archive of any size uses constant memory.
 */

const BLOCK = 512;
/** The largest size an 11-digit octal field can hold. */
const MAX_ENTRY_SIZE = 0o77777777777;

export type TarEntry =
  | { type: "directory"; name: string; mtime: Date }
  | { type: "file"; name: string; mtime: Date; size: number; source: { path: string } | { data: Buffer } };

export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArchiveError";
  }
}

/**
 * How much an extraction may write. Every entry's size is checked against these when its header
 * is read, before a byte of it is written, so an archive that inflates to more (a few hundred KB
 * of gzip can hold gigabytes of zeros) stops there.
 */
export interface ExtractLimits {
  /** Entries of any kind, folders included. */
  maxEntries: number;
  /** Bytes of all files together. */
  maxTotalBytes: number;
  /** Bytes of one file, by its path inside the archive. */
  maxFileBytes: (path: string) => number;
  /** Bytes after the end-of-archive marker (tar pads archives to 10 KiB records; nothing needs more). */
  maxTrailingBytes: number;
}

/** Only what ustar itself bounds: for archives whose size is already trusted. */
export const UNBOUNDED_EXTRACT: ExtractLimits = { maxEntries: Number.MAX_SAFE_INTEGER, maxTotalBytes: Number.MAX_SAFE_INTEGER, maxFileBytes: () => MAX_ENTRY_SIZE, maxTrailingBytes: 1024 * 1024 };

/** A limit of `ExtractLimits` was reached; `detail` says which. */
export class ArchiveTooLargeError extends ArchiveError {
  readonly detail: string;
  constructor(detail: string) {
    super(`archive: too large: ${detail}`);
    this.name = "ArchiveTooLargeError";
    this.detail = detail;
  }
}

/** 2001 → "2,001 bytes"; 209715200 → "200 MiB"; 8589934592 → "8 GiB". */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${Number((bytes / 1024 ** 3).toFixed(1))} GiB`;
  if (bytes >= 1024 ** 2) return `${Number((bytes / 1024 ** 2).toFixed(1))} MiB`;
  return `${bytes.toLocaleString("en-US")} bytes`;
}

function writeString(header: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length > length) throw new ArchiveError(`tar field too long: ${value}`);
  bytes.copy(header, offset);
}

function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  writeString(header, offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
}

/** ustar splits long paths at a slash into a 155-byte prefix and a 100-byte name. */
function splitName(path: string): { prefix: string; name: string } {
  if (Buffer.byteLength(path) <= 100) return { prefix: "", name: path };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== "/") continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0) return { prefix, name };
  }
  throw new ArchiveError(`path too long for a ustar archive: ${path}`);
}

export function tarHeader(entry: TarEntry): Buffer {
  const header = Buffer.alloc(BLOCK);
  const size = entry.type === "file" ? entry.size : 0;
  if (size > MAX_ENTRY_SIZE) throw new ArchiveError(`${entry.name} is larger than a ustar entry can hold (8 GiB)`);
  const { prefix, name } = splitName(entry.type === "directory" && !entry.name.endsWith("/") ? `${entry.name}/` : entry.name);
  writeString(header, 0, 100, name);
  writeOctal(header, 100, 8, entry.type === "directory" ? 0o755 : 0o644);
  writeOctal(header, 108, 8, 0);
  writeOctal(header, 116, 8, 0);
  writeOctal(header, 124, 12, size);
  writeOctal(header, 136, 12, Math.floor(entry.mtime.getTime() / 1000));
  header.fill(0x20, 148, 156);
  header[156] = entry.type === "directory" ? 0x35 : 0x30;
  writeString(header, 257, 6, "ustar\0");
  writeString(header, 263, 2, "00");
  writeString(header, 265, 32, "loopstacks");
  writeString(header, 297, 32, "loopstacks");
  writeString(header, 345, 155, prefix);
  let sum = 0;
  for (const byte of header) sum += byte;
  writeString(header, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return header;
}

async function* tarChunks(entries: readonly TarEntry[]): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    yield tarHeader(entry);
    if (entry.type !== "file") continue;
    let written = 0;
    if ("data" in entry.source) {
      written = entry.source.data.length;
      yield entry.source.data;
    } else {
      for await (const chunk of createReadStream(entry.source.path, { highWaterMark: 256 * 1024 })) {
        written += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    }
    if (written !== entry.size) throw new ArchiveError(`${entry.name} changed while it was archived (${written} bytes, expected ${entry.size})`);
    const padding = (BLOCK - (written % BLOCK)) % BLOCK;
    if (padding) yield Buffer.alloc(padding);
  }
  yield Buffer.alloc(BLOCK * 2);
}

/** The gzip-compressed archive as a stream; each file is read from disk as it is reached. */
export function tarGzStream(entries: readonly TarEntry[]): Readable {
  const gzip = createGzip({ level: 6 });
  pipeline(Readable.from(tarChunks(entries)), gzip).catch((error: unknown) => gzip.destroy(error as Error));
  return gzip;
}

function readString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString("utf8");
}

function readOctal(block: Buffer, offset: number, length: number): number {
  const text = readString(block, offset, length).trim();
  if (!/^[0-7]+$/.test(text)) return Number.NaN;
  return parseInt(text, 8);
}

/** Rejects every path that could land outside the destination. */
function safeRelativePath(name: string): string | null {
  if (name.length === 0 || name.includes("\\") || name.includes("\0") || name.startsWith("/")) return null;
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length === 0 || parts.some((p) => p === "..")) return null;
  return normalize(parts.join(sep));
}

/**
 * Extracts a `.tar.gz` into `destination`, streaming. Throws `ArchiveError` with a message
 * that names what is wrong: a truncated stream, a bad header, an unsafe or unsupported entry,
 * or (`ArchiveTooLargeError`) an archive past `limits`.
 */
export async function extractTarGz(archivePath: string, destination: string, limits: ExtractLimits = UNBOUNDED_EXTRACT): Promise<string[]> {
  const extracted: string[] = [];
  let pending = Buffer.alloc(0);
  let state: "header" | "body" | "end" = "header";
  let current: { name: string; remaining: number; padding: number; fd: number | null } | null = null;
  let zeroBlocks = 0;
  let entryIndex = 0;
  let totalBytes = 0;
  let trailingBytes = 0;

  const closeCurrent = () => {
    if (current?.fd != null) closeSync(current.fd);
  };

  const parseHeader = (block: Buffer) => {
    if (block.every((b) => b === 0)) {
      zeroBlocks++;
      if (zeroBlocks === 2) state = "end";
      return;
    }
    if (zeroBlocks > 0) throw new ArchiveError("archive: an entry follows an empty block");
    entryIndex++;
    if (entryIndex > limits.maxEntries) throw new ArchiveTooLargeError(`more than ${limits.maxEntries} entries`);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
    if (readOctal(block, 148, 8) !== sum) throw new ArchiveError(`archive: header ${entryIndex} is corrupt (checksum mismatch)`);
    const prefix = readString(block, 345, 155);
    const rawName = prefix ? `${prefix}/${readString(block, 0, 100)}` : readString(block, 0, 100);
    const size = readOctal(block, 124, 12);
    const type = String.fromCharCode(block[156] ?? 0);
    const relative = safeRelativePath(rawName);
    if (relative === null) throw new ArchiveError(`archive: entry "${rawName}" has an unsafe path`);
    if (!Number.isSafeInteger(size)) throw new ArchiveError(`archive: entry "${rawName}" has an invalid size`);
    if (type === "5") {
      mkdirSync(join(destination, relative), { recursive: true });
      return;
    }
    if (type !== "0" && type !== "\0") throw new ArchiveError(`archive: entry "${rawName}" is not a regular file or directory (type ${JSON.stringify(type)})`);
    const fileLimit = limits.maxFileBytes(relative.split(sep).join("/"));
    if (size > fileLimit) throw new ArchiveTooLargeError(`"${rawName}" holds ${formatBytes(size)}, more than the ${formatBytes(fileLimit)} such a file may`);
    totalBytes += size;
    if (totalBytes > limits.maxTotalBytes) throw new ArchiveTooLargeError(`its files hold more than ${formatBytes(limits.maxTotalBytes)} in all ("${rawName}" goes past it)`);
    const target = join(destination, relative);
    mkdirSync(join(target, ".."), { recursive: true });
    // `wx`: an archive that names the same file twice must not silently overwrite it.
    let fd: number;
    try {
      fd = openSync(target, "wx", 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new ArchiveError(`archive: entry "${rawName}" appears twice`);
      throw error;
    }
    extracted.push(relative.split(sep).join("/"));
    current = { name: rawName, remaining: size, padding: (BLOCK - (size % BLOCK)) % BLOCK, fd };
    state = "body";
    if (size === 0) finishBody();
  };

  const finishBody = () => {
    closeCurrent();
    if (current) current.fd = null;
  };

  const consume = (chunk: Buffer) => {
    let data = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    pending = Buffer.alloc(0);
    while (data.length > 0 && state !== "end") {
      if (state === "header") {
        if (data.length < BLOCK) {
          pending = Buffer.from(data);
          return;
        }
        parseHeader(data.subarray(0, BLOCK));
        data = data.subarray(BLOCK);
        continue;
      }
      const entry = current!;
      if (entry.remaining > 0) {
        const take = Math.min(entry.remaining, data.length);
        writeSync(entry.fd!, data, 0, take);
        entry.remaining -= take;
        data = data.subarray(take);
        if (entry.remaining === 0) finishBody();
        continue;
      }
      const skip = Math.min(entry.padding, data.length);
      entry.padding -= skip;
      data = data.subarray(skip);
      if (entry.padding === 0) {
        state = "header";
        current = null;
      }
    }
    // What follows the end marker is never read, but it is still inflated: cap it.
    if (state === "end") {
      trailingBytes += data.length;
      if (trailingBytes > limits.maxTrailingBytes) throw new ArchiveTooLargeError(`more than ${formatBytes(limits.maxTrailingBytes)} after the end of the archive`);
    }
  };

  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      try {
        consume(chunk);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    final(callback) {
      if (state === "end") return callback();
      if (state === "body" && current && current.remaining > 0) {
        return callback(new ArchiveError(`archive: truncated inside ${current.name} (${current.remaining} bytes missing)`));
      }
      callback(new ArchiveError("archive: truncated (no end-of-archive marker)"));
    },
  });

  try {
    await pipeline(createReadStream(archivePath), createGunzip(), sink);
  } catch (error) {
    closeCurrent();
    if (error instanceof ArchiveError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "Z_BUF_ERROR" || /unexpected end of file/i.test((error as Error).message)) {
      throw new ArchiveError("archive: truncated (the gzip stream ends early)");
    }
    if (typeof code === "string" && code.startsWith("Z_")) {
      throw new ArchiveError(`archive: not a valid gzip file (${(error as Error).message})`);
    }
    throw error;
  }
  return extracted;
}
