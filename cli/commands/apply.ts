import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { AppError } from "../../lib/errors";
import { applyRealms, parseRealmsSection } from "../../lib/services/manage-mappings";
import { cliActor, withInstance } from "../context";

/** A loops file: loops as code, applied idempotently. */
export const loopsFileSchema = z
  .object({
    loops: z.array(z.unknown()).default([]),
    realms: z.unknown().optional(),
  })
  .strict();

export function readLoopsFile(path: string): z.infer<typeof loopsFileSchema> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new AppError("invalid_request", `Cannot read ${path}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new AppError("invalid_definition", `${path} is not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${(error as Error).message}`);
  }
  const parsed = loopsFileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
    throw new AppError("invalid_definition", `${path} is not a loops file (expected a top-level "loops:" list)`, { issues });
  }
  return parsed.data;
}

export function register(program: Command): void {
  program
    .command("apply")
    .description("Create or update the loops in a loops file (YAML or JSON); unchanged loops are left alone")
    .requiredOption("-f, --file <path>", "the loops file")
    .option("--dry-run", "validate every loop and report problems without writing anything")
    .action(async (options: { file: string; dryRun?: boolean }) => {
      const file = readLoopsFile(options.file);
      await withInstance(
        async (instance) => {
          if (options.dryRun) {
            parseRealmsSection(file.realms);
            const ids = new Set(file.loops.map((l) => (l as { id?: string })?.id).filter((id): id is string => typeof id === "string"));
            for (const loop of file.loops) await instance.registry.validate(loop, ids);
            console.log(`${file.loops.length} loop(s) valid; nothing written (--dry-run)`);
            return;
          }
          if (file.realms !== undefined) {
            for (const r of await applyRealms(instance.database.db, file.realms, cliActor())) {
              const changes = [...r.added.map((m) => `+${m.role} ${m.groupDn}`), ...r.removed.map((m) => `-${m.role} ${m.groupDn}`)];
              console.log(`realm ${r.realmChange.padEnd(9)} ${r.realm}${changes.length ? ` (${changes.join(", ")})` : ""}`);
            }
          }
          const results = await instance.registry.registerMany(file.loops, { actor: cliActor() });
          for (const r of results) {
            const what = !r.changed ? "unchanged" : r.revision === 1 ? "created  " : "updated  ";
            const prompt = r.promptVersion ? `, prompt v${r.promptVersion} active` : "";
            console.log(`${what} ${r.loop.id} (${r.loop.type}, realm ${r.loop.realm}, revision ${r.revision}${prompt})`);
          }
          const changed = results.filter((r) => r.changed).length;
          console.log(`${changed} changed, ${results.length - changed} unchanged`);
        },
        { seedDemo: false },
      );
    });
}
