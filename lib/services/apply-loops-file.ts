import type { Db } from "../../db/client";
import { createDbStore } from "../../db/store";
import type { Registry, RegisterResult } from "../runtime/registry";
import { applyRealms, type AppliedRealm, type CliOperator } from "./manage-mappings";

/** A loops file, as `loopstacks apply` reads it: loop definitions and an optional `realms:` section. */
export interface LoopsFile {
  loops: unknown[];
  realms?: unknown;
}

export interface ApplyLoopsFileResult {
  realms: AppliedRealm[];
  loops: RegisterResult[];
  /** False for a dry run: every change was made, checked and rolled back. */
  written: boolean;
}

/** Ends a dry run's transaction without committing it, carrying what the apply would have done. */
class DryRunRollback extends Error {
  constructor(readonly result: ApplyLoopsFileResult) {
    super("dry run: rolled back");
  }
}

/**
 * Applies a loops file in one transaction: its realms and mappings, then its loops. A file
 * applies whole or not at all — a loop the database refuses (one moved to another realm, a value
 * it cannot store) leaves no realm, mapping or other loop of the file behind. A dry run does
 * everything a real apply does, with every check, and rolls it back, so it reports exactly what
 * the apply would change or refuse.
 */
export async function applyLoopsFile(
  deps: { db: Db; registry: Registry },
  actor: CliOperator,
  file: LoopsFile,
  options: { dryRun?: boolean } = {},
): Promise<ApplyLoopsFileResult> {
  const dryRun = options.dryRun === true;
  try {
    return await deps.db.transaction(async (transaction) => {
      const tx = transaction as unknown as Db;
      const realms = file.realms === undefined ? [] : await applyRealms(tx, file.realms, actor);
      const loops = await deps.registry.withStore(createDbStore(tx)).registerMany(file.loops, { actor });
      const result = { realms, loops, written: !dryRun };
      if (dryRun) throw new DryRunRollback(result);
      return result;
    });
  } catch (error) {
    if (error instanceof DryRunRollback) return error.result;
    throw error;
  }
}
