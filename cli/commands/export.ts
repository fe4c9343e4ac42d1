import { resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import packageJson from "../../package.json";
import { AppError } from "../../lib/errors";
import { exportBundle, type ExportBundleInput } from "../../lib/export/export-bundle";
import { INSTANT_EXAMPLE, parseInstant } from "../../lib/export/instant";
import { createOutputFile, type OutputFile } from "../../lib/export/output-file";
import { resolveActor } from "../../lib/services/actor";
import { identityFor, withInstance } from "../context";

interface ExportOptions {
  run?: string;
  realm?: string;
  from?: string;
  to?: string;
  as: string;
  output?: string;
}

/** The same reading as the REST API's and the console's (`lib/export/instant.ts`). */
function parseTime(value: string | undefined, flag: string): Date {
  const result = value === undefined ? { ok: false as const, message: "is required with --realm" } : parseInstant(value);
  if (!result.ok) {
    throw new AppError("invalid_request", `${flag} ${value === undefined ? "is required" : `"${value}" is not accepted`}: an ISO-8601 date and time with its zone, e.g. ${INSTANT_EXAMPLE}`, {
      issues: [{ path: flag, message: result.message }],
    });
  }
  return result.date;
}

function exportInput(options: ExportOptions): ExportBundleInput {
  if (options.run && options.realm) throw new AppError("invalid_request", "Pass either --run or --realm, not both");
  if (options.run) {
    if (options.from || options.to) throw new AppError("invalid_request", "--from and --to apply to --realm exports only");
    return { kind: "run", runId: options.run };
  }
  if (options.realm) {
    return { kind: "realm", realmId: options.realm, from: parseTime(options.from, "--from"), to: parseTime(options.to, "--to") };
  }
  throw new AppError("invalid_request", "Pass --run <id>, or --realm <id> with --from and --to");
}

export function register(program: Command): void {
  program
    .command("export")
    .description("Export a signed compliance bundle (.tar.gz) of one run, or of a realm's runs in a time range")
    .option("--run <id>", "the run to export")
    .option("--realm <id>", "the realm whose runs to export")
    .option("--from <iso>", "with --realm: runs created at or after this time")
    .option("--to <iso>", "with --realm: runs created before this time")
    .requiredOption("--as <username>", "export as this directory user (needs the auditor or admin role in the realm)")
    .option("-o, --output <file>", "where to write the archive, or - for standard output (default: ./<bundle>.tar.gz)")
    .action(async (options: ExportOptions) => {
      const input = exportInput(options);
      const toStdout = options.output === "-";
      // A file named with -o is claimed before the instance opens, the default name as soon as it
      // is known: either way before anything is exported or audited, so a taken name costs nothing.
      let output: OutputFile | null = options.output && !toStdout ? await createOutputFile(resolve(options.output)) : null;
      try {
        await withInstance(
          async (instance) => {
            const actor = await resolveActor(instance.database.db, await identityFor(instance, options.as));
            const claimOutput = async (fileName: string) => {
              output = await createOutputFile(resolve(fileName));
            };
            const bundle = await exportBundle(
              {
                db: instance.database.db,
                instanceSecret: instance.instanceSecret,
                softwareVersion: packageJson.version,
                ...(toStdout || output ? {} : { claimOutput }),
              },
              actor,
              input,
            );
            try {
              await pipeline(bundle.archive(), output ? output.writable() : process.stdout, { end: !toStdout });
            } finally {
              await bundle.dispose();
            }
            const path = output?.path ?? null;
            const { manifest } = bundle;
            const chain = manifest.auditChain ? `audit events ${manifest.auditChain.firstSeq}–${manifest.auditChain.lastSeq}` : "no audit events";
            // Standard output may be the archive itself; the summary goes to standard error.
            const log = toStdout ? console.error : console.log;
            log(`${path ?? "(standard output)"}: ${manifest.runs} runs, ${manifest.frames} frames, ${chain}`);
            log(`signed by key ${manifest.signingKeyId}; manifest sha256 ${bundle.manifestSha256}`);
            log(`check it with: loopstacks verify ${path ?? "<file>"}`);
          },
          { seedDemo: false, recoverInterruptedRuns: false },
        );
      } catch (error) {
        // Whatever failed, no half-written bundle is left behind.
        await output?.discard();
        throw error;
      }
    });
}
