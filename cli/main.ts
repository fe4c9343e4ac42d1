import { Command, CommanderError } from "commander";
import { nulRefusal } from "../lib/errors";
import packageJson from "../package.json";
import { register as registerApply } from "./commands/apply";
import { register as registerAudit } from "./commands/audit";
import { register as registerExport } from "./commands/export";
import { register as registerKeys } from "./commands/keys";
import { register as registerMigrate } from "./commands/migrate";
import { register as registerRealms } from "./commands/realms";
import { register as registerRun } from "./commands/run";
import { register as registerStart } from "./commands/start";
import { register as registerVerify } from "./commands/verify";
import { register as registerWorker } from "./commands/worker";
import { EXIT, exitCodeFor, reportError } from "./context";

// `loopstacks apply -f big.yaml | head -1`: a reader that stops reading is not a failure. What is
// left to print is dropped and the command ends as it would have, as Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
}

// Commander exits 1 on bad usage; its errors are thrown instead (set before the commands are
// added, which inherit it) so that bad usage exits 2 like every other bad input.
const program = new Command()
  .name("loopstacks")
  .description("LoopStacks: typed AI loops, Loop Stack Tree traces, realm authorization, signed compliance bundles.")
  .version(packageJson.version)
  .showHelpAfterError()
  .exitOverride()
  .configureHelp({ sortSubcommands: true });

for (const register of [registerMigrate, registerApply, registerRun, registerStart, registerRealms, registerAudit, registerExport, registerVerify, registerKeys, registerWorker]) register(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has printed the problem (or the help or version asked for).
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    // As the API and the console do: text the database cannot store is the caller's input.
    const reported = nulRefusal(error) ?? error;
    reportError(reported);
    process.exitCode = exitCodeFor(reported);
  }
}
