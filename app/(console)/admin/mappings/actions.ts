"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { createAction } from "@/lib/server/action";
import { addMapping, groupDnSchema, realmIdSchema, removeMapping, roleSchema } from "@/lib/services/manage-mappings";

const mappingFormSchema = z.object({ realm: realmIdSchema, groupDn: groupDnSchema, role: roleSchema });

// Both services check that the caller is admin of the realm: these actions are reachable by a direct POST.
export const addMappingAction = createAction(mappingFormSchema, async ({ actor, instance, input }) => {
  const result = await addMapping({ db: instance.database.db }, actor, input);
  revalidatePath("/admin/mappings");
  return { added: result.added, groupDn: result.groupDn, role: result.role as string, realm: result.realm };
});

export const removeMappingAction = createAction(mappingFormSchema, async ({ actor, instance, input }) => {
  await removeMapping({ db: instance.database.db }, actor, input);
  revalidatePath("/admin/mappings");
  return { removed: true };
});
