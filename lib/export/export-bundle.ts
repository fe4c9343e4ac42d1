import { z } from "zod";
import type { Db } from "../../db/client";
import { getRun } from "../../db/queries/runs";
import { AppError } from "../errors";
import { assertCan, scopeFor, type Actor } from "../services/actor";
import { instantSchema } from "./instant";
import type { InstanceSecret } from "./signing-keys";
import { prepareBundle, type PreparedBundle } from "./write-bundle";

export const exportBundleSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("run"), runId: z.string().min(1) }),
  z.object({ kind: z.literal("realm"), realmId: z.string().min(1), from: instantSchema, to: instantSchema }),
]);
export type ExportBundleInput = z.input<typeof exportBundleSchema>;

export interface ExportBundleDeps {
  db: Db;
  instanceSecret: InstanceSecret;
  softwareVersion: string;
  tempDir?: string;
  /** See `PrepareBundleParams.claimOutput`: claims the output file before anything is exported or audited. */
  claimOutput?: (fileName: string) => Promise<void>;
}

/**
 * The use case behind the console button, the REST endpoint and the CLI: auditors and admins
 * export from their realms. Something the actor cannot even view is `not_found`; something they
 * can view but not export is `forbidden`.
 */
export async function exportBundle(deps: ExportBundleDeps, actor: Actor, raw: ExportBundleInput): Promise<PreparedBundle> {
  const parsed = exportBundleSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
    throw new AppError("invalid_request", "Invalid export request", { issues });
  }
  const input = parsed.data;
  if (input.kind === "run") {
    const run = /^[0-9a-f-]{36}$/i.test(input.runId) ? await getRun(deps.db, { runId: input.runId, scope: scopeFor(actor, "view") }) : null;
    if (!run) throw new AppError("not_found", `Run ${input.runId} does not exist`);
    assertCan(actor, "export", run.realmId, `Run ${input.runId}`);
  } else {
    assertCan(actor, "export", input.realmId, `Realm ${input.realmId}`);
  }
  return prepareBundle(deps.db, {
    scope: input.kind === "run" ? { kind: "run", runId: input.runId } : input,
    exporter: actor.identity,
    realms: scopeFor(actor, "export"),
    instanceSecret: deps.instanceSecret,
    softwareVersion: deps.softwareVersion,
    ...(deps.tempDir ? { tempDir: deps.tempDir } : {}),
    ...(deps.claimOutput ? { claimOutput: deps.claimOutput } : {}),
  });
}
