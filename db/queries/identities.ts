import { eq } from "drizzle-orm";
import type { Db } from "../client";
import { identities } from "../schema";

export interface IdentityRecord {
  subject: string;
  dn: string | null;
  displayName: string | null;
  email: string | null;
  source: string;
  groups: string[];
  groupsCheckedAt: Date;
  lastLoginAt: Date | null;
}

/** Records what the directory said about a person, at login or at a group re-check. */
export async function upsertIdentity(db: Db, record: Omit<IdentityRecord, "lastLoginAt"> & { isLogin: boolean }): Promise<void> {
  const { isLogin, ...values } = record;
  const now = record.groupsCheckedAt;
  await db
    .insert(identities)
    .values({ ...values, lastLoginAt: isLogin ? now : null })
    .onConflictDoUpdate({
      target: identities.subject,
      set: {
        dn: values.dn,
        displayName: values.displayName,
        email: values.email,
        source: values.source,
        groups: values.groups,
        groupsCheckedAt: values.groupsCheckedAt,
        ...(isLogin ? { lastLoginAt: now } : {}),
      },
    });
}

export async function getIdentity(db: Db, subject: string): Promise<IdentityRecord | null> {
  const [row] = await db.select().from(identities).where(eq(identities.subject, subject)).limit(1);
  return row ?? null;
}
