import { buildPublicKeysDocument, listPublicKeys } from "@/lib/export/signing-keys";
import { handleRoute } from "@/lib/server/http";
import { getInstance } from "@/lib/server/instance";

/**
 * Every public key that has signed bundles, current and retired, so a bundle signed before a
 * rotation still verifies. Public by design: it holds nothing secret.
 */
export async function GET(): Promise<Response> {
  return handleRoute(async () => {
    const instance = await getInstance();
    return Response.json(buildPublicKeysDocument(await listPublicKeys(instance.database.db)), { headers: { "cache-control": "public, max-age=300" } });
  });
}
