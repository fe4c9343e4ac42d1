import type { Command } from "commander";
import { appendAuditEvent } from "../../db/queries/audit";
import { loadConfig } from "../../lib/config";
import { listPublicKeys, loadOrCreateInstanceSecret, rotateSigningKey } from "../../lib/export/signing-keys";
import { cliActor } from "../context";
import { withDatabase } from "./realms";

export function register(program: Command): void {
  const keys = program.command("keys").description("Signing keys of compliance bundles (direct database access)");

  keys
    .command("list")
    .description("List every public key that has signed bundles, current and retired")
    .action(async () => {
      await withDatabase(async ({ db }) => {
        const all = await listPublicKeys(db);
        if (all.length === 0) console.log("No signing key yet: the first export creates one.");
        for (const key of all) {
          console.log(`${key.id}  created ${key.createdAt.toISOString()}  ${key.retiredAt ? `retired ${key.retiredAt.toISOString()}` : "active"}`);
        }
      });
    });

  keys
    .command("rotate")
    .description("Retire the active signing key and make a new one; the old public key stays published")
    .action(async () => {
      const config = loadConfig();
      const secret = config.instanceSecret ?? loadOrCreateInstanceSecret(config.dataDir);
      await withDatabase(async ({ db }) => {
        const { retired, active } = await rotateSigningKey(db, secret);
        await appendAuditEvent(db, { action: "signing_key.rotated", actor: cliActor(), targetType: "signing_key", targetId: active.id, data: { retired } });
        console.log(`active  ${active.id}`);
        if (retired) console.log(`retired ${retired}`);
      });
    });
}
