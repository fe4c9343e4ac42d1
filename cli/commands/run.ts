import type { Command } from "commander";
import { formatTraceTree } from "../../lib/runtime/trace";
import { EXIT, identityFor, readJsonArgument, withInstance } from "../context";

export function register(program: Command): void {
  program
    .command("run")
    .description("Run a loop and print its output and a compact Loop Stack Tree")
    .argument("<loopId>", "the loop to run")
    .option("-i, --input <json>", "input as JSON, @file.json, or - for standard input", "{}")
    .requiredOption("--as <username>", "run as this directory user (authorized like any caller)")
    .option("--timeout <ms>", "deadline for the whole run, in milliseconds")
    .option("--json", "print the whole result (output and trace) as JSON")
    .action(async (loopId: string, options: { input: string; as: string; timeout?: string; json?: boolean }) => {
      const input = readJsonArgument(options.input);
      const code = await withInstance(async (instance) => {
        const identity = await identityFor(instance, options.as);
        const controller = new AbortController();
        const onSignal = () => controller.abort();
        process.once("SIGINT", onSignal);
        try {
          const result = await instance.executor.run(loopId, input, {
            identity,
            signal: controller.signal,
            ...(options.timeout ? { timeoutMs: Number(options.timeout) } : {}),
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
