import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);
/** The `loopstacks` command as installed (package.json's bin). */
export const LOOPSTACKS_BIN = new URL("../bin/loopstacks.mjs", import.meta.url).pathname;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the `loopstacks` command in a process of its own, on the embedded database in `dataDir()`. */
export function cliRunner(dataDir: () => string): (...args: string[]) => Promise<CliResult> {
  return async (...args) => {
    try {
      const { stdout, stderr } = await run(process.execPath, [LOOPSTACKS_BIN, ...args], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, LOOPSTACKS_DATA_DIR: dataDir(), NODE_ENV: "test" },
        timeout: 60_000,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as CliResult;
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
}
