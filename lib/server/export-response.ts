import { Readable } from "node:stream";
import packageJson from "@/package.json";
import { exportBundle, type ExportBundleInput } from "../export/export-bundle";
import type { Actor } from "../services/actor";
import { getInstance } from "./instance";

/**
 * Exports a signed compliance bundle as a download. The archive streams from temporary files
 * as it is read, so a large export never sits in memory; they are removed when it ends.
 */
export async function exportDownload(actor: Actor, input: ExportBundleInput): Promise<Response> {
  const instance = await getInstance();
  const bundle = await exportBundle(
    { db: instance.database.db, instanceSecret: instance.instanceSecret, softwareVersion: packageJson.version },
    actor,
    input,
  );
  const archive = bundle.archive();
  const cleanup = () => void bundle.dispose();
  archive.once("close", cleanup);
  archive.once("error", cleanup);
  return new Response(Readable.toWeb(archive) as ReadableStream, {
    headers: {
      "content-type": "application/gzip",
      "content-disposition": `attachment; filename="${bundle.fileName}"`,
      "cache-control": "no-store",
      "x-loopstacks-manifest-sha256": bundle.manifestSha256,
    },
  });
}
