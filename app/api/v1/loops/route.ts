import { listLoops, type ListLoopsInput } from "@/lib/services/list-loops";
import { registerLoop } from "@/lib/services/register-loop";
import { apiRoute, json, readJson } from "../_lib/api";
import { unsupportedMethods } from "@/lib/server/http";

/** Loops of the token's realm. Filters: `search`, `realm`, `type`. */
export const GET = apiRoute(async ({ request, actor, instance }) => {
  const query = new URL(request.url).searchParams;
  const { loops } = await listLoops({ db: instance.database.db }, actor, {
    search: query.get("search") ?? undefined,
    realm: query.get("realm") ?? undefined,
    // An unknown type is no filter: the service drops values it does not know.
    type: (query.get("type") ?? undefined) as ListLoopsInput["type"],
  });
  return json({ loops });
});

/** Registers a loop, or a new revision of it: the body is the loop definition. Maintainer or admin tokens. */
export const POST = apiRoute(async ({ request, actor, instance }) => {
  const definition = await readJson(request);
  const result = await registerLoop({ db: instance.database.db, registry: instance.registry }, actor, { definition });
  return json(result, { status: result.changed && result.revision === 1 ? 201 : 200 });
});

export const { PUT, PATCH, DELETE, OPTIONS } = unsupportedMethods({ GET, POST });
