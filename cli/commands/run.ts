import type { Command } from "commander";
import { AppError } from "../../lib/errors";
import { MAX_RUN_TIMEOUT_MS } from "../../lib/runtime/run-input";
import { formatTraceTree } from "../../lib/runtime/trace";
import { EXIT, identityFor, readJsonArgument, withInstance } from "../context";

export function register(program: Command): void {
  program
    .command("run")
    .description("Run a loop and print its output and a compact Loop Stack Tree")
    .argument("<loopId>", "the loop to run")
    .option("-i, --input <json>", "input as JSON, @file.json, or - for standard input", "{}")
    .requiredOption("--as <username>", "run as this directory user (authorized like any caller)")
    .option("--timeout <ms>", `deadline for the whole run, in milliseconds (1 to ${MAX_RUN_TIMEOUT_MS})`)
    .option("--json", "print the whole result (output and trace) as JSON")
    .action(async (loopId: string, options: { input: string; as: string; timeout?: string; json?: boolean }) => {
      const input = readJsonArgument(options.input);
      const timeoutMs = options.timeout === undefined ? undefined : parseTimeout(options.timeout);
      const code = await withInstance(async (instance) => {
        const identity = await identityFor(instance, options.as);
        const controller = new AbortController();
        const onSignal = () => controller.abort();
        process.once("SIGINT", onSignal);
        try {
          const result = await instance.executor.run(loopId, input, {
            identity,
            signal: controller.signal,
            ...(timeoutMs !== undefined ? { timeoutMs } : {}),
          });
          if (options.json) {
            console.log(JSON.stringify(result, null, 2));
          } else {
            if (instance.scriptedModel) console.error("note: no model provider is configured — LLM loops answered by the built-in scripted model");
            console.log(`run ${result.runId} ${result.status}`);
            if (result.status === "succeeded") console.log(typeof result.output === "string" ? result.output : JSON.stringify(result.output, null, 2));
            else if (result.error) console.log(`${result.error.code}: ${result.error.message}`);
            console.log("");
            console.log(formatTraceTree(result.trace));
          }
          return result.status === "succeeded" ? EXIT.ok : result.status === "denied" ? EXIT.denied : EXIT.failed;
        } finally {
          process.off("SIGINT", onSignal);
        }
      }, { executesRuns: true });
      process.exitCode = code;
    });
}

/** `--timeout`: digits only (no "1e3", no "abc"), from 1 to the longest a timer can wait. */
export function parseTimeout(value: string): number {
  const ms = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms < 1 || ms > MAX_RUN_TIMEOUT_MS) {
    throw new AppError("invalid_input", `--timeout must be a whole number of milliseconds from 1 to ${MAX_RUN_TIMEOUT_MS} (got "${value}")`);
  }
  return ms;
}
