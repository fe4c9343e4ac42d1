"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { createAction } from "@/lib/server/action";
import { createServiceToken, createServiceTokenSchema, revokeServiceToken } from "@/lib/services/service-tokens";

// Both services check that the caller is admin of the token's realm: these actions are reachable by a direct POST.
export const createTokenAction = createAction(createServiceTokenSchema, async ({ actor, instance, input }) => {
  const { token, serviceToken } = await createServiceToken({ db: instance.database.db }, actor, input);
  revalidatePath("/admin/tokens");
  // The one time the secret leaves the server.
  return { token, name: serviceToken.name, realm: serviceToken.realm, role: serviceToken.role as string };
});

export const revokeTokenAction = createAction(z.object({ id: z.string().max(100) }), async ({ actor, instance, input }) => {
  await revokeServiceToken({ db: instance.database.db }, actor, { id: input.id });
  revalidatePath("/admin/tokens");
  return { revoked: true };
});
