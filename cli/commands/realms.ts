import type { Command } from "commander";
import { openDatabase, type DatabaseHandle } from "../../db/client";
import { loadConfig } from "../../lib/config";
import { ROLES } from "../../lib/runtime/types";
import { addMapping, listMappings, removeMapping } from "../../lib/services/manage-mappings";
import { cliActor } from "../context";

/**
 * `loopstacks realm …`: LDAP group → realm role mappings. The CLI opens the database
 * directly, so it needs no console login and no directory: this is how the first admin of
 * a fresh install is made (`loopstacks realm map --realm R --group DN --role admin`).
 */
export async function withDatabase<T>(work: (database: DatabaseHandle) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const database = await openDatabase(config.database.kind === "postgres" ? { url: config.database.url } : { dataDir: config.database.dataDir });
  try {
    await database.migrate();
    return await work(database);
  } finally {
    await database.close();
  }
}

interface MappingOptions {
  realm: string;
  group: string;
  role: string;
}

export function register(program: Command): void {
  const realm = program.command("realm").description("Map LDAP groups to roles in realms (direct database access: how the first admin is made)");

  realm
    .command("map")
    .description("Map an LDAP group to a role in a realm; the realm is created if it does not exist")
    .requiredOption("--realm <id>", "the realm, e.g. payments")
    .requiredOption("--group <dn>", "the group's DN, e.g. cn=payments-admins,ou=groups,dc=example,dc=org")
    .requiredOption("--role <role>", `one of ${ROLES.join(", ")}`)
    .action(async (options: MappingOptions) => {
      await withDatabase(async ({ db }) => {
        const result = await addMapping({ db }, cliActor(), { realm: options.realm, groupDn: options.group, role: options.role as never });
        console.log(`${result.added ? "mapped" : "already mapped"} ${result.groupDn} → ${result.role} in realm ${result.realm}`);
      });
    });

  realm
    .command("unmap")
    .description("Remove a group's role in a realm")
    .requiredOption("--realm <id>", "the realm")
    .requiredOption("--group <dn>", "the group's DN")
    .requiredOption("--role <role>", `one of ${ROLES.join(", ")}`)
    .action(async (options: MappingOptions) => {
      await withDatabase(async ({ db }) => {
        const result = await removeMapping({ db }, cliActor(), { realm: options.realm, groupDn: options.group, role: options.role as never });
        console.log(`removed ${result.groupDn} → ${result.role} from realm ${result.realm}`);
      });
    });

  realm
    .command("list")
    .description("List realms and their group mappings")
    .option("--realm <id>", "only this realm")
    .option("--json", "print JSON")
    .action(async (options: { realm?: string; json?: boolean }) => {
      await withDatabase(async ({ db }) => {
        const realms = await listMappings({ db }, cliActor(), { ...(options.realm ? { realm: options.realm } : {}) });
        if (options.json) {
          console.log(JSON.stringify(realms, null, 2));
          return;
        }
        if (realms.length === 0) {
          console.log(options.realm ? `No realm ${options.realm}` : "No realms yet. Make the first admin with: loopstacks realm map --realm <id> --group <dn> --role admin");
          return;
        }
        for (const r of realms) {
          console.log(`${r.id}${r.name !== r.id ? ` (${r.name})` : ""}`);
          if (r.mappings.length === 0) console.log("  (no mappings)");
          for (const m of r.mappings) console.log(`  ${m.role.padEnd(10)} ${m.groupDn}`);
        }
      });
    });
}
