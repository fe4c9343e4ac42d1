import { z } from "zod";
import { apiRoute, readJson } from "../_lib/api";
import { exportBundleSchema } from "@/lib/export/export-bundle";
import { AppError } from "@/lib/errors";
import { exportDownload } from "@/lib/server/export-response";
import { unsupportedMethods } from "@/lib/server/http";

/** POST a scope (`{ kind: "run", runId }` or `{ kind: "realm", realmId, from, to }`), receive the signed bundle. */
export const POST = apiRoute(async ({ request, actor }) => {
  const parsed = exportBundleSchema.safeParse(await readJson(request));
  if (!parsed.success) {
    throw new AppError("invalid_request", "Invalid export request", {
      issues: parsed.error.issues.map((i: z.core.$ZodIssue) => ({ path: i.path.join("."), message: i.message })),
    });
  }
  return exportDownload(request, actor, parsed.data);
});

export const { GET, HEAD, PUT, PATCH, DELETE, OPTIONS } = unsupportedMethods({ POST });
