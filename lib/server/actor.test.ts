import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import type { DatabaseHandle } from "../../db/client";
import { upsertIdentity } from "../../db/queries/identities";
import { addRealmMapping } from "../../db/queries/realms";
import { DATABASE_KINDS, openTestDatabase } from "../../test/database";
import { auth } from "../auth/auth";
import { loadLdapConfig } from "../auth/ldap/config";
import { createLdapDirectory } from "../auth/ldap/directory";
import { createAction } from "./action";
import { areGroupsUnconfirmed, DIRECTORY_UNAVAILABLE_MESSAGE, requireActor } from "./actor";
import { handleRoute } from "./http";
import { getInstance } from "./instance";

// Auth.js needs Next's server to read the cookie; the session it verified is given here.
vi.mock("../auth/auth", () => ({ auth: vi.fn() }));
vi.mock("./instance", () => ({ getInstance: vi.fn() }));

const OPERATORS = "cn=operators,ou=groups,dc=example,dc=org";
const ADMINS = "cn=admins,ou=groups,dc=example,dc=org";

describe.each(DATABASE_KINDS)("the console's caller while the directory cannot be reached, on %s", (kind) => {
  let database: DatabaseHandle;
  const realm = `payments-${kind}`;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    const directory = createLdapDirectory(
      loadLdapConfig({ LOOPSTACKS_LDAP_URLS: "ldap://127.0.0.1:1", LOOPSTACKS_LDAP_INSECURE: "true", LOOPSTACKS_LDAP_USER_BASE_DN: "ou=people,dc=x", LOOPSTACKS_LDAP_CONNECT_TIMEOUT_MS: "200" })!,
      { warn: () => {} },
    );
    vi.mocked(getInstance).mockResolvedValue({ database, directory, groupRecheckSeconds: 0 } as never);
    await addRealmMapping(database.db, { realmId: realm, groupDn: OPERATORS, role: "operator", createdBy: "test" });
    await addRealmMapping(database.db, { realmId: realm, groupDn: ADMINS, role: "admin", createdBy: "test" });
    // A re-check before the directory went away took alice out of the admins.
    await upsertIdentity(database.db, { subject: "alice", dn: null, displayName: "Alice", email: null, source: "ldap", groups: [OPERATORS], groupsCheckedAt: new Date(), isLogin: true });
  });
  afterAll(async () => database?.close());
  beforeEach(() => {
    vi.mocked(auth).mockResolvedValue({ identity: { subject: "alice", groups: [OPERATORS, ADMINS], source: "ldap" }, expires: "" } as never);
  });

  it("lets pages and read-only routes view on the groups last confirmed, with a notice", async () => {
    const actor = await requireActor({ onAnonymous: "redirect" });
    expect(actor.roles).toEqual([{ realm, role: "operator", via: OPERATORS }]);
    expect((await requireActor({ intent: "view" })).roles).toEqual(actor.roles);
    expect(await areGroupsUnconfirmed()).toBe(true);
  });

  it("refuses actions and acting routes with 503 and says why", async () => {
    await expect(requireActor()).rejects.toMatchObject({ code: "unavailable", message: DIRECTORY_UNAVAILABLE_MESSAGE });
    const handler = vi.fn();
    const action = createAction(z.object({ runId: z.string() }), handler);
    const form = new FormData();
    form.set("runId", "r1");
    expect(await action(null, form)).toEqual({ ok: false, error: { code: "unavailable", message: DIRECTORY_UNAVAILABLE_MESSAGE, issues: [] } });
    expect(handler).not.toHaveBeenCalled();
    const response = await handleRoute(async () => {
      await requireActor();
      return new Response("exported");
    });
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ error: { code: "unavailable", message: DIRECTORY_UNAVAILABLE_MESSAGE } });
  });

  it("treats a request without a session as anonymous", async () => {
    vi.mocked(auth).mockResolvedValue(null as never);
    await expect(requireActor({ intent: "view" })).rejects.toMatchObject({ code: "unauthenticated" });
    expect(await areGroupsUnconfirmed()).toBe(false);
  });
});
