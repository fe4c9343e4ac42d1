import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPgliteThread, type PgliteClient } from "./pglite-thread";

describe("PGlite in a worker thread", () => {
  let pglite: PgliteClient;

  beforeAll(async () => {
    pglite = await startPgliteThread(undefined);
    await pglite.exec("create table notes (id int primary key, body text not null, at timestamptz not null default now())");
  });
  afterAll(async () => pglite?.close());

  it("answers queries with parameters, in either row mode, and leaves the types it is told to as text", async () => {
    await pglite.query("insert into notes (id, body, at) values ($1, $2, $3)", [1, "first", "2026-11-25T10:00:00Z"]);
    const objects = await pglite.query<{ id: number; body: string; at: Date }>("select id, body, at from notes where id = $1", [1]);
    expect(objects.rows).toEqual([{ id: 1, body: "first", at: new Date("2026-11-25T10:00:00Z") }]);
    const arrays = await pglite.query<unknown[]>("select id, at from notes", [], { rowMode: "array", parsers: { 1184: (value) => value } });
    expect(arrays.rows).toEqual([[1, "2026-11-25 10:00:00+00"]]);
    expect(arrays.fields.map((f) => f.name)).toEqual(["id", "at"]);
    await expect(pglite.query("select 1", [], { parsers: { 25: (value) => value.toUpperCase() } })).rejects.toThrow(/raw-text parsers/);
  });

  it("fails a call whose parameters cannot be sent to the thread, and only that call", async () => {
    await expect(pglite.query("select $1::text as v", [() => "a function"])).rejects.toThrow(/could not be cloned/);
    expect((await pglite.query<{ v: string }>("select $1::text as v", ["fine"])).rows).toEqual([{ v: "fine" }]);
  });

  it("fails a call whose answer is nested too deep to be read back, and only that call", async () => {
    // The thread's stack copies what this thread's cannot read back.
    const deep = "[".repeat(8_000) + "1" + "]".repeat(8_000);
    await expect(pglite.query("select $1::json as v", [deep])).rejects.toThrow(/answer could not be read: Maximum call stack size exceeded/);
    expect((await pglite.query<{ v: string }>("select $1::text as v", ["fine"])).rows).toEqual([{ v: "fine" }]);
  });

  it("reports a database error with its code and detail", async () => {
    const failure = await pglite.query("insert into notes (id, body) values ($1, $2)", [1, "again"]).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(failure).toMatchObject({ code: "23505", message: expect.stringMatching(/duplicate key/) });
  });

  it("commits a transaction, rolls back one whose callback throws, and keeps other statements out of it", async () => {
    await pglite.transaction(async (tx) => {
      await tx.query("insert into notes (id, body) values ($1, $2)", [2, "committed"]);
    });
    await expect(
      pglite.transaction(async (tx) => {
        await tx.query("insert into notes (id, body) values ($1, $2)", [3, "rolled back"]);
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    const { rows } = await pglite.query<{ id: number }>("select id from notes order by id");
    expect(rows.map((r) => r.id)).toEqual([1, 2]);

    // A statement sent while a transaction is open runs after it, not inside it.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const transaction = pglite.transaction(async (tx) => {
      await tx.query("insert into notes (id, body) values ($1, $2)", [4, "slow"]);
      await held;
      throw new Error("rolled back after all");
    });
    await new Promise((r) => setTimeout(r, 20));
    const outside = pglite.query<{ n: number }>("select count(*)::int as n from notes where id = 4");
    release();
    await expect(transaction).rejects.toThrow("rolled back after all");
    expect((await outside).rows).toEqual([{ n: 0 }]);
  });

  it("delivers notifications to each listener until it stops listening", async () => {
    const heard: string[] = [];
    const unlisten = await pglite.listen("notes_changed", (payload) => heard.push(payload));
    await pglite.query("select pg_notify('notes_changed', $1)", ["one"]);
    for (let i = 0; i < 50 && heard.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
    await unlisten();
    await pglite.query("select pg_notify('notes_changed', $1)", ["two"]);
    await new Promise((r) => setTimeout(r, 50));
    expect(heard).toEqual(["one"]);
  });

  it("refuses calls once closed", async () => {
    const other = await startPgliteThread(undefined);
    await other.close();
    await expect(other.query("select 1")).rejects.toThrow(/closed|exited/);
  });
});
