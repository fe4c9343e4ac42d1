import { createHash, type Hash } from "node:crypto";
import { createWriteStream, type WriteStream } from "node:fs";
import { once } from "node:events";

export interface WrittenFile {
  path: string;
  sha256: string;
  size: number;
  /** Newline-terminated lines written. */
  lines: number;
}

/**
 * Appends text to a file while hashing and counting it, waiting for the disk when the stream's
 * buffer fills, so memory stays flat however much is written.
 */
export class HashingFileWriter {
  private readonly stream: WriteStream;
  private readonly hash: Hash = createHash("sha256");
  private size = 0;
  private lines = 0;
  private failure: Error | null = null;

  constructor(readonly path: string) {
    this.stream = createWriteStream(path, { flags: "wx", mode: 0o600 });
    this.stream.on("error", (error) => {
      this.failure = error;
    });
  }

  async write(text: string): Promise<void> {
    if (this.failure) throw this.failure;
    const bytes = Buffer.from(text, "utf8");
    this.hash.update(bytes);
    this.size += bytes.length;
    for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) this.lines++;
    if (!this.stream.write(bytes)) await once(this.stream, "drain");
  }

  async close(): Promise<WrittenFile> {
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve, reject) => this.stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
    return { path: this.path, sha256: this.hash.digest("hex"), size: this.size, lines: this.lines };
  }

  /** Closes without caring about the result, for clean-up after a failure. */
  abort(): void {
    this.stream.destroy();
  }
}
