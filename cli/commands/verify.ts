import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { AppError } from "../../lib/errors";
import type { PublicKeysDocument } from "../../lib/export/signing-keys";
import { verifyBundle } from "../../lib/export/verify-bundle";
import { EXIT } from "../context";

interface VerifyOptions {
  keys?: string;
  keyId: string[];
}

function readKeys(path: string): PublicKeysDocument {
  try {
    const document = JSON.parse(readFileSync(path, "utf8")) as PublicKeysDocument;
    if (!Array.isArray(document.keys)) throw new Error("no keys array");
    return document;
  } catch (error) {
    throw new AppError("invalid_request", `--keys ${path} is not a LoopStacks keys document (${(error as Error).message})`);
  }
}

/** Works offline and never opens the instance: an auditor can run it on their own machine. */
export function register(program: Command): void {
  program
    .command("verify")
    .description("Verify a compliance bundle: signature, file hashes and record counts, and the audit hash chain")
    .argument("<bundle>", "a bundle archive (.tar.gz) or an extracted bundle folder")
    .option("--keys <file>", "the instance's published keys document; the signing key must be one of them")
    .option("--key-id <sha256>", "a trusted signing key id (repeatable)", (value: string, previous: string[]) => [...previous, value], [] as string[])
    .action(async (bundle: string, options: VerifyOptions) => {
      const result = await verifyBundle(bundle, {
        ...(options.keys ? { trustedKeys: readKeys(options.keys) } : {}),
        ...(options.keyId.length > 0 ? { trustedKeyIds: options.keyId } : {}),
      });
      if (result.ok && result.manifest) {
        const { manifest } = result;
        const chain = manifest.auditChain ? `audit events ${manifest.auditChain.firstSeq}–${manifest.auditChain.lastSeq} linked` : "no audit events";
        console.log(`OK ${manifest.bundle}: signed by key ${manifest.signingKeyId}; ${manifest.files.length + 3} files intact; ${chain}`);
        if (!options.keys && options.keyId.length === 0) {
          console.log("The signature proves the bundle is intact. To know who signed it, compare the key id with the instance's published keys (--keys).");
        }
        process.exitCode = EXIT.ok;
        return;
      }
      console.log(`FAILED ${bundle}:`);
      for (const problem of result.problems) console.log(`  ${problem}`);
      process.exitCode = EXIT.failed;
    });
}
