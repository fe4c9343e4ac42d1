import type { FileHandle } from "node:fs/promises";
import { open, rm } from "node:fs/promises";
import type { Writable } from "node:stream";
import { AppError } from "../errors";

/**
 * A file an archive is written to: created exclusively (never over an existing file) before the
 * export starts, and removed again if the export does not finish, so a failed export leaves
 * neither a half-written bundle nor a clobbered file behind.
 */
export interface OutputFile {
  path: string;
  /** The file as a stream, once; it closes the file when it ends or fails. */
  writable(): Writable;
  /** Closes and removes the file: the export failed or was abandoned. */
  discard(): Promise<void>;
}

export async function createOutputFile(path: string): Promise<OutputFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, "wx", 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      throw new AppError("invalid_request", `${path} already exists; choose another file, or remove it first`, { issues: [{ path: "output", message: "already exists" }] });
    }
    throw new AppError("invalid_request", `Cannot create ${path}: ${(error as Error).message}`, { issues: [{ path: "output", message: `cannot be created (${code ?? "error"})` }] });
  }
  let stream: Writable | null = null;
  return {
    path,
    writable() {
      if (stream) throw new AppError("internal", `${path} is already being written`);
      stream = handle.createWriteStream();
      return stream;
    },
    async discard() {
      stream?.destroy();
      await handle.close().catch(() => {});
      await rm(path, { force: true });
    },
  };
}
