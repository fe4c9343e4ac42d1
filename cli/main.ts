import { Command } from "commander";
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
import { exitCodeFor, reportError } from "./context";

const program = new Command()
  .name("loopstacks")
  .description("LoopStacks: typed AI loops, Loop Stack Tree traces, realm authorization, signed compliance bundles.")
  .showHelpAfterError()
  .configureHelp({ sortSubcommands: true });

for (const register of [registerMigrate, registerApply, registerRun, registerStart, registerRealms, registerAudit, registerExport, registerVerify, registerKeys, registerWorker]) register(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  reportError(error);
  process.exitCode = exitCodeFor(error);
}
