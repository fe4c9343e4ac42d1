/**
 * `loopstacks worker` as the cluster tests run it: the real command, in a process of its own,
 * with the arguments this file is given.
 */
import { Command } from "commander";
import { register } from "../../cli/commands/worker";
import { exitCodeFor, reportError } from "../../cli/context";

const program = new Command().name("loopstacks");
register(program);
try {
  await program.parseAsync(["worker", ...process.argv.slice(2)], { from: "user" });
} catch (error) {
  reportError(error);
  process.exitCode = exitCodeFor(error);
}
