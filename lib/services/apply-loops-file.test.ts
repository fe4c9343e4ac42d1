import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getLoop } from "../../db/queries/loops";
import { listRealmsWithMappings } from "../../db/queries/realm-admin";
import { auditEvents, promptRollouts } from "../../db/schema";
import { DATABASE_KINDS } from "../../test/database";
import { createTestRuntime, type TestRuntime } from "../../test/runtime-harness";
import { isAppError, type AppError } from "../errors";
import { resolveActor, type Actor } from "./actor";
import { applyLoopsFile, type LoopsFile } from "./apply-loops-file";
import type { CliOperator } from "./manage-mappings";
import { completePromptRollout } from "./prompts/complete-prompt-rollout";
import { createPromptVersion } from "./prompts/create-prompt-version";
import { startPromptRollout } from "./prompts/start-prompt-rollout";

const operator: CliOperator = { subject: "cli:test", kind: "user", source: "cli" };
const http = (id: string, realm: string, url = "http://127.0.0.1:9/x") => ({ id, type: "http", realm, http: { url } });
const llm = (id: string, realm: string, systemPrompt: string, tools: unknown[] = []) => ({ id, type: "llm", realm, llm: { model: "claude-test", maxTokens: 512, systemPrompt, tools } });

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (isAppError(error)) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}

describe.each(DATABASE_KINDS)("applying a loops file on %s", (kind) => {
  let rt: TestRuntime;
  let db: TestRuntime["database"]["db"];
  const apply = (file: LoopsFile, dryRun = false) => applyLoopsFile({ db, registry: rt.registry }, operator, file, { dryRun });
  const exists = async (loopId: string) => (await getLoop(db, { loopId, scope: "all" })) !== null;
  const auditCount = async () => (await db.select({ id: auditEvents.id }).from(auditEvents)).length;

  beforeAll(async () => {
    rt = await createTestRuntime(kind);
    db = rt.database.db;
    await apply({ loops: [http("settled", "home"), llm("typed", "home", "Answer.")] });
  });

  afterAll(async () => {
    await rt?.closeAll();
  });

  it("writes nothing — no realm, mapping or loop — when a loop later in the file is refused", async () => {
    const before = await auditCount();
    const file = {
      realms: [{ id: "fresh-realm", mappings: [{ group: "cn=fresh-admins,ou=groups,dc=example,dc=org", role: "admin" }] }],
      loops: [http("fresh-loop", "fresh-realm"), http("settled", "elsewhere")],
    };
    const error = await refusal(apply(file));
    expect(error.code).toBe("conflict");
    expect(error.issues).toEqual([{ path: "[1].realm", message: 'must stay "home"' }]);
    expect(await listRealmsWithMappings(db, ["fresh-realm"])).toEqual([]);
    expect(await exists("fresh-loop")).toBe(false);
    expect(await auditCount()).toBe(before);
  });

  it("leaves no loop with a dangling loopRef when the loop it calls cannot be stored", async () => {
    const file = { loops: [llm("dangle-parent", "home", "Call the child.", [{ name: "child", loopRef: "dangle-child" }]), llm("dangle-child", "home", "Nul \u0000 here.")] };
    await expect(apply(file)).rejects.toThrow();
    expect(await exists("dangle-parent")).toBe(false);
    expect(await exists("dangle-child")).toBe(false);
    // The registry on its own (the SDK's path) registers loops together in one transaction too.
    await expect(rt.registry.registerMany(file.loops)).rejects.toThrow();
    expect(await exists("dangle-parent")).toBe(false);
    const error = await refusal(rt.registry.registerMany([llm("sdk-parent", "home", "Call.", [{ name: "t", loopRef: "sdk-child" }]), http("sdk-child", "home"), http("settled", "elsewhere")]));
    expect(error.issues).toEqual([{ path: "[2].realm", message: 'must stay "home"' }]);
    expect(await exists("sdk-parent")).toBe(false);
    expect(await exists("sdk-child")).toBe(false);
  });

  it("names the entry at its position in the file when an id is defined twice after an invalid entry", async () => {
    const error = await refusal(rt.registry.registerMany([{ id: "Bad" }, http("dupx", "home"), http("dupx", "home", "http://127.0.0.1:9/y")]));
    expect(error.code).toBe("invalid_definition");
    expect(error.issues.map((i) => i.path)).toContain("[2].id");
    expect(error.issues.map((i) => i.path)).not.toContain("[1].id");
    expect(await exists("dupx")).toBe(false);
  });

  it("runs every check of a real apply in a dry run, reports what would change and writes nothing", async () => {
    const before = await auditCount();
    const dry = await apply(
      { realms: [{ id: "dry-realm", mappings: [{ group: "cn=dry-admins,ou=groups,dc=example,dc=org", role: "admin" }] }], loops: [http("dry-loop", "dry-realm"), http("settled", "home", "http://127.0.0.1:9/new")] },
      true,
    );
    expect(dry.written).toBe(false);
    expect(dry.realms).toMatchObject([{ realm: "dry-realm", realmChange: "created", added: [{ role: "admin" }] }]);
    expect(dry.loops.map((r) => [r.loop.id, r.changed, r.revision])).toEqual([
      ["dry-loop", true, 1],
      ["settled", true, 2],
    ]);
    expect(await exists("dry-loop")).toBe(false);
    expect(await listRealmsWithMappings(db, ["dry-realm"])).toEqual([]);
    expect((await getLoop(db, { loopId: "settled", scope: "all" }))?.revision).toBe(1);
    expect(await auditCount()).toBe(before);

    // What a real apply refuses, a dry run refuses the same way.
    expect((await refusal(apply({ loops: [http("dupy", "home"), http("dupy", "home")] }, true))).issues).toEqual([{ path: "[1].id", message: 'loop "dupy" is defined twice' }]);
    expect((await refusal(apply({ loops: [http("settled", "elsewhere")] }, true))).code).toBe("conflict");
    expect((await refusal(apply({ loops: [http("typed", "home")] }, true))).issues).toEqual([{ path: "[0].type", message: 'must stay "llm"' }]);
  });

  it("answers reads kept in memory with what an apply committed", async () => {
    expect((await rt.store.getLoop("settled"))?.revision).toBe(1);
    expect((await rt.store.resolvePrompt("typed", { subject: "u", input: {} }))?.prompt.version).toBe(1);
    await apply({ loops: [http("settled", "home", "http://127.0.0.1:9/kept"), llm("typed", "home", "Answer again.")] });
    expect((await rt.store.getLoop("settled"))?.revision).toBe(2);
    expect((await rt.store.resolvePrompt("typed", { subject: "u", input: {} }))?.prompt.version).toBe(2);
  });

  it("ends a running prompt rollout when an apply changes the prompt, as a promotion does", async () => {
    await apply({ loops: [llm("rolled", "home", "Version one.")] });
    const group = "cn=rolled-maintainers,ou=groups,dc=example,dc=org";
    await applyLoopsFile({ db, registry: rt.registry }, operator, { realms: [{ id: "home", mappings: [{ group, role: "maintainer" }] }], loops: [] });
    const maintainer: Actor = await resolveActor(db, { subject: "mia", groups: [group], kind: "user", source: "test" });
    await createPromptVersion({ db }, maintainer, { loopId: "rolled", systemPrompt: "Version two.", model: "claude-test", maxTokens: 512 });
    const rollout = await startPromptRollout({ db }, maintainer, { loopId: "rolled", candidateVersion: 2, percent: 50 });

    const [applied] = (await apply({ loops: [llm("rolled", "home", "Version three.")] })).loops;
    expect(applied).toMatchObject({ promptVersion: 3, endedRollout: { id: rollout.id, candidateVersion: 2, percent: 50, outcome: "stopped" } });
    const [row] = await db.select().from(promptRollouts).where(eq(promptRollouts.id, rollout.id));
    expect(row).toMatchObject({ outcome: "stopped", endedBy: "cli:test" });
    expect(row?.endedAt).not.toBeNull();
    // Every frame runs the new version; none is sent to the old candidate.
    for (const subject of ["a", "b", "c", "d", "e", "f"]) {
      const resolved = await rt.store.resolvePrompt("rolled", { subject, input: {} });
      expect(resolved?.prompt.version).toBe(3);
    }
    const events = await db.select().from(auditEvents).where(eq(auditEvents.action, "loop.revised"));
    const revised = events.filter((e) => e.targetId === "rolled").at(-1);
    expect(revised?.data).toMatchObject({ promptVersion: 3, rollout: { id: rollout.id, candidateVersion: 2, percent: 50, outcome: "stopped" } });
    // Completing the ended rollout cannot move the active version back to its candidate.
    expect((await refusal(completePromptRollout({ db }, maintainer, { loopId: "rolled" }))).code).toBe("conflict");
    expect((await getLoop(db, { loopId: "rolled", scope: "all" }))?.activePromptVersion).toBe(3);
  });
});
