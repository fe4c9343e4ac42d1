import type { Command } from "commander";
import { openDatabase } from "../../db/client";
import { loadConfig } from "../../lib/config";

export function register(program: Command): void {
  program
    .command("migrate")
    .description("Apply database migrations (PGlite data directory, or DATABASE_URL)")
    .action(async () => {
      const config = loadConfig();
      const database = await openDatabase(config.database.kind === "postgres" ? { url: config.database.url } : { dataDir: config.database.dataDir });
      try {
        await database.migrate();
        console.log(`Migrations applied to ${database.kind} at ${database.location}`);
      } finally {
        await database.close();
      }
    });
}
