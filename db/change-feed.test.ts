import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_KINDS, openTestDatabase } from "../test/database";
import { changeFeedOf, keepUntilChanged } from "./change-feed";
import { openDatabase, type DatabaseHandle } from "./client";

describe("the change feed of embedded PGlite", () => {
  it("starts once the database is migrated to announce changes", async () => {
    const database = await openDatabase({ dataDir: "memory://" });
    try {
      expect(changeFeedOf(database.db)).toBeUndefined();
      // A reader made before then keeps nothing.
      let reads = 0;
      const early = keepUntilChanged(database.db, ["loops"], async () => ++reads);
      await database.migrate();
      expect(changeFeedOf(database.db)).toBeDefined();
      expect([await early("a"), await early("a")]).toEqual([1, 2]);
    } finally {
      await database.close();
    }
  });
});

describe.each(DATABASE_KINDS)("keepUntilChanged on %s", (kind) => {
  let database: DatabaseHandle;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(async () => database?.close());

  it(kind === "pglite" ? "keeps each key's answer until one of its tables changes, and only then" : "reads every time: no other process's change would be heard in time", async () => {
    const reads: string[] = [];
    const read = keepUntilChanged(database.db, ["realm_mappings"], async (key: string) => {
      reads.push(key);
      return `${key}#${reads.length}`;
    });
    const first = await read("a");
    expect(await read("a")).toBe(kind === "pglite" ? first : "a#2");
    await read("b");
    // A change to a table the reader does not depend on keeps its answers.
    await database.db.execute(sql`insert into realms (id, name) values ('elsewhere', 'Elsewhere')`);
    const afterOther = await read("a");
    await database.db.execute(sql`insert into realms (id, name) values ('cardiology', 'Cardiology')`);
    await database.db.execute(sql`insert into realm_mappings (realm_id, group_dn, role, created_by) values ('cardiology', 'cn=ops', 'operator', 'test')`);
    const afterChange = await read("a");
    if (kind === "pglite") {
      expect(afterOther).toBe(first);
      expect(afterChange).not.toBe(first);
      expect(reads).toEqual(["a", "b", "a"]);
    } else {
      expect(reads).toEqual(["a", "a", "b", "a", "a"]);
    }
  });

  it("does not keep a failed read", async () => {
    let attempts = 0;
    const read = keepUntilChanged(database.db, ["loops"], async () => {
      attempts++;
      if (attempts === 1) throw new Error("connection lost");
      return "answer";
    });
    await expect(read("x")).rejects.toThrow("connection lost");
    expect(await read("x")).toBe("answer");
    expect(attempts).toBe(2);
  });
});
