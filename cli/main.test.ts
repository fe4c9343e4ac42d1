import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cliRunner, LOOPSTACKS_BIN } from "../test/cli";

const root = mkdtempSync(join(tmpdir(), "loopstacks-main-"));
const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LOOPSTACKS_DATA_DIR: join(root, "data"), NODE_ENV: "test" };
const loopstacks = cliRunner(() => join(root, "data"));

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("the loopstacks command line", { timeout: 120_000 }, () => {
  it("exits 2 for bad usage, and 0 for --help and --version", async () => {
    const unknownCommand = await loopstacks("bogus");
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toContain("unknown command 'bogus'");
    const unknownOption = await loopstacks("run", "x", "--as", "alice", "--bogus");
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toContain("unknown option '--bogus'");
    const missing = await loopstacks("run", "x");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--as <username>' not specified");
    expect((await loopstacks("--help")).code).toBe(0);
    expect((await loopstacks("run", "--help")).code).toBe(0);
    const version = await loopstacks("--version");
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("refuses a run timeout that is not whole milliseconds a timer can wait, with exit 2", async () => {
    for (const timeout of ["abc", "0", "-5", "1e20", "1.5", "3000000000", "2147483648"]) {
      const result = await loopstacks("run", "x", "--as", "alice", `--timeout=${timeout}`);
      expect(result.code, timeout).toBe(2);
      expect(result.stderr).toContain("--timeout must be a whole number of milliseconds from 1 to 2147483647");
      expect(result.stderr).not.toContain("TimeoutOverflowWarning");
    }
  });

  it("exits quietly when its standard output is closed", async () => {
    const file = join(root, "many.yaml");
    const loops = Array.from({ length: 50 }, (_, i) => `  - { id: pipe-${i}, type: http, realm: pipes, http: { url: "http://127.0.0.1:9/x" } }`);
    writeFileSync(file, `loops:\n${loops.join("\n")}\n`);
    // As `loopstacks apply -f many.yaml | head -0`: the reader is gone before anything is printed.
    const child = spawn(process.execPath, [LOOPSTACKS_BIN, "apply", "-f", file], { env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).not.toContain("EPIPE");
    expect(code).toBe(0);
    // The apply itself went through.
    expect((await loopstacks("apply", "-f", file)).stdout).toContain("0 changed, 50 unchanged");
  });
});
