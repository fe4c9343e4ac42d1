import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { AppError } from "../../lib/errors";
import { applyLoopsFile, type ApplyLoopsFileResult } from "../../lib/services/apply-loops-file";
import { parseRealmsSection } from "../../lib/services/manage-mappings";
import { cliActor, decodeUtf8, withInstance } from "../context";

/** A loops file: loops as code, applied idempotently. */
export const loopsFileSchema = z
  .object({
    loops: z.array(z.unknown()).default([]),
    realms: z.unknown().optional(),
  })
  .strict();

export function readLoopsFile(path: string): z.infer<typeof loopsFileSchema> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new AppError("invalid_request", `Cannot read ${path}: ${(error as Error).message}`);
  }
  // Decoded strictly: read leniently, a file in another encoding would be stored with U+FFFD in place of its letters.
  const text = decodeUtf8(bytes, path);
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
    .description("Create or update the loops in a loops file (YAML or JSON) in one transaction; unchanged loops are left alone")
    .requiredOption("-f, --file <path>", "the loops file")
    .option("--dry-run", "make every change and check, print what would change, then roll it all back")
    .action(async (options: { file: string; dryRun?: boolean }) => {
      const file = readLoopsFile(options.file);
      // The realms section is checked before the database is opened: a mistake there costs no start.
      if (file.realms !== undefined) parseRealmsSection(file.realms);
      await withInstance(
        async (instance) => {
          const result = await applyLoopsFile({ db: instance.database.db, registry: instance.registry }, cliActor(), file, { dryRun: options.dryRun === true });
          printApplied(result);
        },
        { seedDemo: false },
      );
    });
}

/** What an apply changed (or, in a dry run, would change), printed once it has committed. */
function printApplied({ realms, loops, written }: ApplyLoopsFileResult): void {
  for (const r of realms) {
    const changes = [...r.added.map((m) => `+${m.role} ${m.groupDn}`), ...r.removed.map((m) => `-${m.role} ${m.groupDn}`)];
    console.log(`realm ${r.realmChange.padEnd(9)} ${r.realm}${changes.length ? ` (${changes.join(", ")})` : ""}`);
  }
  for (const r of loops) {
    const what = !r.changed ? "unchanged" : r.revision === 1 ? "created  " : "updated  ";
    const prompt = r.promptVersion ? `, prompt v${r.promptVersion} active` : "";
    const rollout = r.endedRollout ? `, rollout of v${r.endedRollout.candidateVersion} stopped` : "";
    console.log(`${what} ${r.loop.id} (${r.loop.type}, realm ${r.loop.realm}, revision ${r.revision}${prompt}${rollout})`);
  }
  const changed = loops.filter((r) => r.changed).length;
  const summary = `${changed} changed, ${loops.length - changed} unchanged`;
  console.log(written ? summary : `${summary}; nothing written (--dry-run)`);
}
