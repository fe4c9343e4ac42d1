import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestRuntime, type TestRuntime } from "../../test/runtime-harness";
import { isAppError } from "../errors";
import { resolveActor, type Actor } from "./actor";
import { getLoop, sampleFromSchema } from "./get-loop";
import { listLoops } from "./list-loops";
import { registerLoop } from "./register-loop";
import { getLoop as getStoredLoop } from "../../db/queries/loops";

describe("loop services on pglite", () => {
  let rt: TestRuntime;
  let operatorA: Actor;
  let viewerA: Actor;
  let maintainerA: Actor;
  let adminA: Actor;
  let operatorB: Actor;
  let nobody: Actor;

  beforeAll(async () => {
    rt = await createTestRuntime("pglite");
    const actor = async (realm: string, role: Parameters<TestRuntime["grant"]>[1]) => resolveActor(rt.database.db, await rt.grant(realm, role));
    operatorA = await actor("alpha", "operator");
    viewerA = await actor("alpha", "viewer");
    maintainerA = await actor("alpha", "maintainer");
    adminA = await actor("alpha", "admin");
    operatorB = await actor("beta", "operator");
    nobody = await resolveActor(rt.database.db, { subject: "nobody", groups: [], kind: "user", source: "test" });
    await rt.registry.registerMany([
      {
        id: "alpha-lookup",
        type: "llm",
        realm: "alpha",
        description: "Looks things up",
        inputSchema: { type: "object", properties: { query: { type: "string" }, limit: { type: "integer", default: 3 } } },
        llm: { model: "m", systemPrompt: "Look up." },
      },
      { id: "alpha-http", type: "http", realm: "alpha", http: { url: "http://127.0.0.1:9/x" } },
      { id: "beta-secret", type: "llm", realm: "beta", description: "Belongs to beta", llm: { model: "m" } },
    ]);
  });

  afterAll(async () => {
    await rt?.closeAll();
  });

  it("lists only the loops of the realms the caller can view", async () => {
    const a = await listLoops({ db: rt.database.db }, viewerA, {});
    expect(a.loops.map((l) => l.id)).toEqual(["alpha-http", "alpha-lookup"]);
    expect(a.realms).toEqual(["alpha"]);
    const b = await listLoops({ db: rt.database.db }, operatorB, {});
    expect(b.loops.map((l) => l.id)).toEqual(["beta-secret"]);
    expect((await listLoops({ db: rt.database.db }, nobody, {})).loops).toEqual([]);
  });

  it("filters by search, type and realm, and a foreign realm filter finds nothing", async () => {
    const db = { db: rt.database.db };
    expect((await listLoops(db, viewerA, { search: "look" })).loops.map((l) => l.id)).toEqual(["alpha-lookup"]);
    expect((await listLoops(db, viewerA, { type: "http" })).loops.map((l) => l.id)).toEqual(["alpha-http"]);
    expect((await listLoops(db, viewerA, { realm: "beta" })).loops).toEqual([]);
    // Unknown filter values come from hand-edited URLs: ignored, not an error.
    expect((await listLoops(db, viewerA, { type: "nonsense" as never })).loops).toHaveLength(2);
  });

  it("says which loops the caller may run", async () => {
    const list = await listLoops({ db: rt.database.db }, viewerA, {});
    expect(list.loops.every((l) => !l.canRun)).toBe(true);
    expect((await listLoops({ db: rt.database.db }, operatorA, {})).loops.every((l) => l.canRun)).toBe(true);
  });

  it("returns a loop with its revisions, active prompt and a sample input", async () => {
    const detail = await getLoop({ db: rt.database.db }, operatorA, { loopId: "alpha-lookup" });
    expect(detail.loop.realm).toBe("alpha");
    expect(detail.revisions.map((r) => r.revision)).toEqual([1]);
    expect(detail.activePrompt).toMatchObject({ version: 1, systemPrompt: "Look up." });
    expect(detail.sampleInput).toEqual({ query: "", limit: 3 });
    expect(detail).toMatchObject({ canRun: true, canEdit: false });
  });

  it("answers not_found for a loop of another realm, exactly as for a missing one", async () => {
    const foreign = await getLoop({ db: rt.database.db }, operatorA, { loopId: "beta-secret" }).catch((e: unknown) => e);
    const missing = await getLoop({ db: rt.database.db }, operatorA, { loopId: "no-such-loop" }).catch((e: unknown) => e);
    expect(isAppError(foreign, "not_found")).toBe(true);
    expect(isAppError(missing, "not_found")).toBe(true);
    expect((foreign as Error).message).toBe('Loop "beta-secret" does not exist');
    expect((missing as Error).message).toBe('Loop "no-such-loop" does not exist');
  });

  it("lets a maintainer register and revise a loop in their realm", async () => {
    const deps = { db: rt.database.db, registry: rt.registry };
    const created = await registerLoop(deps, maintainerA, {
      definition: { id: "alpha-triage", type: "llm", realm: "alpha", llm: { model: "m", systemPrompt: "v1", tools: [{ name: "lookup", loopRef: "alpha-lookup" }] } },
    });
    expect(created).toMatchObject({ loopId: "alpha-triage", revision: 1, changed: true, promptVersion: 1 });
    const revised = await registerLoop(deps, maintainerA, {
      definition: { id: "alpha-triage", type: "llm", realm: "alpha", llm: { model: "m", systemPrompt: "v2", tools: [{ name: "lookup", loopRef: "alpha-lookup" }] } },
    });
    expect(revised).toMatchObject({ revision: 2, changed: true, promptVersion: 2 });
  });

  it("refuses registration to operators and to maintainers of other realms", async () => {
    const deps = { db: rt.database.db, registry: rt.registry };
    const definition = { id: "alpha-new", type: "http", realm: "alpha", http: { url: "http://127.0.0.1:9/" } };
    expect(isAppError(await registerLoop(deps, operatorA, { definition }).catch((e: unknown) => e), "forbidden")).toBe(true);
    expect(isAppError(await registerLoop(deps, operatorB, { definition }).catch((e: unknown) => e), "forbidden")).toBe(true);
  });

  it("never reveals a loop of another realm through registration", async () => {
    const deps = { db: rt.database.db, registry: rt.registry };
    const takenId = await registerLoop(deps, maintainerA, { definition: { id: "beta-secret", type: "llm", realm: "alpha", llm: { model: "m" } } }).catch(
      (e: unknown) => e,
    );
    expect(isAppError(takenId, "conflict")).toBe(true);
    expect((takenId as Error).message).toBe('The loop id "beta-secret" is not available; choose another');

    const foreignChild = await registerLoop(deps, maintainerA, {
      definition: { id: "alpha-spy", type: "llm", realm: "alpha", llm: { model: "m", tools: [{ name: "spy", loopRef: "beta-secret" }] } },
    }).catch((e: unknown) => e);
    expect(isAppError(foreignChild, "invalid_definition")).toBe(true);
    expect((foreignChild as { issues: unknown[] }).issues).toEqual([{ path: "llm.tools[0].loopRef", message: 'loop "beta-secret" does not exist' }]);
  });

  it("reports every problem of an invalid definition with its path", async () => {
    const error = await registerLoop({ db: rt.database.db, registry: rt.registry }, maintainerA, {
      definition: { id: "Bad Id", type: "llm", realm: "alpha", llm: { model: "", maxTurns: 0 } },
    }).catch((e: unknown) => e);
    expect(isAppError(error, "invalid_definition")).toBe(true);
    expect((error as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual(expect.arrayContaining(["id", "llm.model", "llm.maxTurns"]));
  });

  it("refuses a loop that starts a local process to every role, as a loop or as an LLM loop's tool", async () => {
    const deps = { db: rt.database.db, registry: rt.registry };
    const shell = { transport: "stdio", command: "/bin/sh" };
    const definitions = [
      { id: "alpha-shell", type: "mcp", realm: "alpha", mcp: { server: shell, tool: "x" } },
      { id: "alpha-shell-tool", type: "llm", realm: "alpha", llm: { model: "m", tools: [{ name: "sh", mcp: { server: shell, tool: "x" } }] } },
    ];
    for (const definition of definitions) {
      for (const actor of [maintainerA, adminA]) {
        const error = await registerLoop(deps, actor, { definition }).catch((e: unknown) => e);
        expect(isAppError(error, "forbidden")).toBe(true);
        expect((error as Error).message).toContain("loopstacks apply");
      }
      expect(await getStoredLoop(rt.database.db, { loopId: definition.id, scope: "all" })).toBeNull();
    }
  });
});

describe("sampleFromSchema", () => {
  it("fills each property with its default, example, enum or an empty value", () => {
    expect(
      sampleFromSchema({
        type: "object",
        properties: {
          name: { type: "string" },
          kind: { enum: ["a", "b"] },
          count: { type: "integer", default: 2 },
          tags: { type: "array" },
          ok: { type: "boolean" },
          nested: { type: "object", properties: { note: { type: "string", examples: ["hi"] } } },
          either: { type: ["null", "number"] },
        },
      }),
    ).toEqual({ name: "", kind: "a", count: 2, tags: [], ok: false, nested: { note: "hi" }, either: 0 });
  });

  it("starts from an empty object without a schema", () => {
    expect(sampleFromSchema(undefined)).toEqual({});
    expect(sampleFromSchema({})).toEqual({});
  });
});
