import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseHandle } from "../client";
import { DATABASE_KINDS, openTestDatabase } from "../../test/database";
import { addRealmMapping, createRealmRolesReader, getRealmRolesIn, normalizeDn, removeRealmMapping } from "./realms";

describe("normalizeDn", () => {
  it("ignores case and spaces around separators", () => {
    expect(normalizeDn("CN=Cardiology Operators, OU=Groups ,DC=Example,DC=org")).toBe("cn=cardiology operators,ou=groups,dc=example,dc=org");
  });

  it("treats an escaped comma as part of the value, written either way", () => {
    const a = normalizeDn("cn=Smith\\, John,ou=people,dc=example,dc=org");
    const b = normalizeDn("CN=Smith\\2C John, OU=people,DC=example,DC=org");
    expect(a).toBe("cn=smith\\, john,ou=people,dc=example,dc=org");
    expect(b).toBe(a);
    expect(a.split(/(?<!\\),/)).toHaveLength(4);
  });

  it("decodes hex-escaped UTF-8 and unescapes characters that need no escape", () => {
    expect(normalizeDn("cn=Ren\\C3\\A9e,dc=x")).toBe("cn=renée,dc=x");
    expect(normalizeDn("cn=a\\62c,dc=x")).toBe("cn=abc,dc=x");
    expect(normalizeDn("cn=a\\2Bb,dc=x")).toBe(normalizeDn("cn=a\\+b,dc=x"));
  });
});

describe.each(DATABASE_KINDS)("createRealmRolesReader on %s", (kind) => {
  let database: DatabaseHandle;
  const ops = "cn=Ops,ou=groups,dc=example,dc=org";
  const audit = "cn=audit,ou=groups,dc=example,dc=org";

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    await addRealmMapping(database.db, { realmId: "cardiology", groupDn: ops, role: "operator", createdBy: "test" });
    await addRealmMapping(database.db, { realmId: "oncology", groupDn: ops, role: "viewer", createdBy: "test" });
    await addRealmMapping(database.db, { realmId: "oncology", groupDn: audit, role: "auditor", createdBy: "test" });
  });
  afterAll(async () => database?.close());

  function counted() {
    const queries: { realmIds: readonly string[]; groupDns: readonly string[] }[] = [];
    const read = createRealmRolesReader(database.db, (db, realmIds, groupDns) => {
      queries.push({ realmIds, groupDns });
      return getRealmRolesIn(db, realmIds, groupDns);
    });
    return { read, queries };
  }

  it("answers reads asked together with one query per set of groups, each with its own realm's roles", async () => {
    const { read, queries } = counted();
    const [cardiology, oncology, again, auditor, none] = await Promise.all([
      read("cardiology", [ops]),
      read("oncology", [ops.toUpperCase()]),
      read("cardiology", [ops]),
      read("oncology", [audit]),
      read("radiology", [ops]),
    ]);
    expect(cardiology).toEqual([{ groupDn: normalizeDn(ops), role: "operator" }]);
    expect(again).toEqual(cardiology);
    expect(oncology).toEqual([{ groupDn: normalizeDn(ops), role: "viewer" }]);
    expect(auditor).toEqual([{ groupDn: normalizeDn(audit), role: "auditor" }]);
    expect(none).toEqual([]);
    expect(queries).toHaveLength(3);
    expect(queries.find((q) => q.groupDns[0] === ops)?.realmIds).toEqual(["cardiology", "radiology"]);
  });

  it("keeps different sets of groups apart, and answers a read asked during a query with a query of its own", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const queries: (readonly string[])[] = [];
    const read = createRealmRolesReader(database.db, async (db, realmIds, groupDns) => {
      queries.push(groupDns);
      if (queries.length === 1) await gate;
      return getRealmRolesIn(db, realmIds, groupDns);
    });
    // Asked together: one group whose name holds a newline is not the two groups around it.
    const joined = read("cardiology", [`${ops}\n${audit}`]);
    const pair = read("cardiology", [ops, audit]);
    await new Promise((r) => setImmediate(r));
    expect(queries).toHaveLength(2);
    // Asked while the first query is still out: it is not answered by that query, unless the
    // database announces changes (PGlite), and then only because none came in between.
    const later = read("cardiology", [`${ops}\n${audit}`]);
    await new Promise((r) => setImmediate(r));
    expect(queries).toHaveLength(kind === "pglite" ? 2 : 3);
    release();
    expect(await joined).toEqual([]);
    expect(await pair).toEqual([{ groupDn: normalizeDn(ops), role: "operator" }]);
    expect(await later).toEqual([]);
  });

  it(kind === "pglite" ? "keeps answers until the mappings change, however they are changed" : "keeps nothing: every read is a query", async () => {
    const { read, queries } = counted();
    const analysts = "cn=analysts,ou=groups,dc=example,dc=org";
    expect(await read("oncology", [analysts])).toEqual([]);
    expect(await read("oncology", [analysts])).toEqual([]);
    expect(queries).toHaveLength(kind === "pglite" ? 1 : 2);
    // Changed behind the application's back, in plain SQL: the database announces it all the same.
    await database.db.execute(sql`insert into realm_mappings (realm_id, group_dn, role, created_by) values ('oncology', ${normalizeDn(analysts)}, 'operator', 'test')`);
    try {
      expect(await read("oncology", [analysts])).toEqual([{ groupDn: normalizeDn(analysts), role: "operator" }]);
      expect(queries).toHaveLength(kind === "pglite" ? 2 : 3);
    } finally {
      await database.db.execute(sql`delete from realm_mappings where group_dn = ${normalizeDn(analysts)}`);
    }
    expect(await read("oncology", [analysts])).toEqual([]);
  });

  it("answers from the mappings as they stand: a mapping removed between two reads is gone from the second", async () => {
    const { read, queries } = counted();
    expect(await read("cardiology", [ops])).toHaveLength(1);
    await removeRealmMapping(database.db, { realmId: "cardiology", groupDn: ops, role: "operator" });
    try {
      expect(await read("cardiology", [ops])).toEqual([]);
      expect(queries).toHaveLength(2);
    } finally {
      await addRealmMapping(database.db, { realmId: "cardiology", groupDn: ops, role: "operator", createdBy: "test" });
    }
  });

  it("asks nothing for an identity without groups, and fails every read of a batch whose query fails", async () => {
    const { read, queries } = counted();
    expect(await read("cardiology", [])).toEqual([]);
    expect(queries).toHaveLength(0);
    const failing = createRealmRolesReader(database.db, async () => {
      throw new Error("connection lost");
    });
    const results = await Promise.allSettled([failing("cardiology", [ops]), failing("oncology", [ops])]);
    expect(results.map((r) => (r.status === "rejected" ? (r.reason as Error).message : "fulfilled"))).toEqual(["connection lost", "connection lost"]);
  });
});
