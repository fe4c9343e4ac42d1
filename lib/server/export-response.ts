import { Readable } from "node:stream";
import packageJson from "@/package.json";
import { exportBundle, type ExportBundleInput } from "../export/export-bundle";
import { AppError } from "../errors";
import type { Actor } from "../services/actor";
import { getInstance } from "./instance";

/**
 * Exports a signed compliance bundle as a download. The archive streams from temporary files
 * as it is read, so a large export never sits in memory; they are removed when it ends.
 *
 * The download is a GET carrying the session cookie, so a link on another site could start one
 * in a signed-in auditor's browser: costly work, and an `export.created` event they never asked
 * for. A request the browser marks as coming from another site is refused; the console's own
 * pages, an address typed in, and clients that are not browsers are not affected.
 */
export async function exportDownload(request: Request, actor: Actor, input: ExportBundleInput): Promise<Response> {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") {
    throw new AppError("forbidden", "A compliance export is started from the console's own pages, not from another site");
  }
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
