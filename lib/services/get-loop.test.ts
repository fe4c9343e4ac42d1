import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestRuntime, type TestRuntime } from "../../test/runtime-harness";
import { isAppError } from "../errors";
import { resolveActor, type Actor } from "./actor";
import { compareLoopRevisions } from "./get-loop";

describe("compareLoopRevisions on pglite", () => {
  let rt: TestRuntime;
  let viewerA: Actor;
  let operatorB: Actor;

  beforeAll(async () => {
    rt = await createTestRuntime("pglite");
    viewerA = await resolveActor(rt.database.db, await rt.grant("alpha", "viewer"));
    operatorB = await resolveActor(rt.database.db, await rt.grant("beta", "operator"));
    const definition = { id: "alpha-fetch", type: "http" as const, realm: "alpha", http: { url: "http://127.0.0.1:9/a" } };
    await rt.registry.registerMany([definition]);
    await rt.registry.registerMany([{ ...definition, http: { url: "http://127.0.0.1:9/b" } }]);
    await rt.registry.registerMany([{ ...definition, description: "Fetches b", http: { url: "http://127.0.0.1:9/b" } }]);
  });

  afterAll(async () => {
    await rt?.closeAll();
  });

  it("compares the previous revision with the current one by default", async () => {
    const comparison = await compareLoopRevisions({ db: rt.database.db }, viewerA, { loopId: "alpha-fetch" });
    expect(comparison.revisions).toEqual([3, 2, 1]);
    expect([comparison.a.revision, comparison.b.revision]).toEqual([2, 3]);
    // The stored definition has its defaults filled in, so the empty description is a real line.
    expect(comparison.diff.lines.filter((line) => line.kind !== "same").map((line) => `${line.kind} ${line.text.trim()}`)).toEqual([
      'removed "description": "",',
      'added "description": "Fetches b",',
    ]);
  });

  it("compares the revisions named in the URL, and falls back for ones the loop does not have", async () => {
    const picked = await compareLoopRevisions({ db: rt.database.db }, viewerA, { loopId: "alpha-fetch", a: "1", b: "2" });
    expect(picked.diff.lines.filter((line) => line.kind !== "same").map((line) => `${line.kind} ${line.text.trim()}`)).toEqual([
      'removed "url": "http://127.0.0.1:9/a"',
      'added "url": "http://127.0.0.1:9/b"',
    ]);
    const stale = await compareLoopRevisions({ db: rt.database.db }, viewerA, { loopId: "alpha-fetch", a: "9", b: "x" });
    expect([stale.a.revision, stale.b.revision]).toEqual([2, 3]);
  });

  it("answers not_found for a loop of another realm", async () => {
    const error = await compareLoopRevisions({ db: rt.database.db }, operatorB, { loopId: "alpha-fetch" }).catch((e: unknown) => e);
    expect(isAppError(error, "not_found")).toBe(true);
  });
});
