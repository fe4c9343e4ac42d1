import type { Command } from "commander";
import { verifyAuditChain } from "../../db/queries/audit";
import { withDatabase } from "./realms";

/**
 * `loopstacks audit verify`: recomputes every event's hash and link. Exit 0 and the head hash
 * when the chain holds; exit 1 naming the first broken event otherwise.
 */
export function register(program: Command): void {
  const audit = program.command("audit").description("The hash-chained audit log");

  audit
    .command("verify")
    .description("Check that no audit event was changed, removed or reordered")
    .option("--json", "print the result as JSON")
    .action(async (options: { json?: boolean }) => {
      const result = await withDatabase(({ db }) => verifyAuditChain(db));
      if (options.json) console.log(JSON.stringify(result));
      else if (result.ok) console.log(`OK: ${result.count} event(s), chain head ${result.head}`);
      else console.log(`BROKEN at event ${result.firstBroken!.seq}: ${result.firstBroken!.reason} (${result.count} event(s) before it verified, last good hash ${result.head})`);
      if (!result.ok) process.exitCode = 1;
    });
}
