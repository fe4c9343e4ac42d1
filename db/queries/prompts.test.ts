import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../../test/database";
import { createTestRuntime, type TestRuntime } from "../../test/runtime-harness";
import { createPromptResolver, insertPromptVersion, lockLoopForPrompts, moveActivePromptVersion, readPromptStates } from "./prompts";

describe.each(DATABASE_KINDS)("createPromptResolver on %s", (kind) => {
  let rt: TestRuntime;

  beforeAll(async () => {
    rt = await createTestRuntime(kind);
    await rt.registry.registerMany([
      { id: "triage", type: "llm", realm: "clinic", llm: { model: "m", systemPrompt: "Triage the patient." } },
      { id: "summary", type: "llm", realm: "clinic", llm: { model: "m", systemPrompt: "Summarise the notes." } },
    ]);
  });
  afterAll(async () => rt?.closeAll());

  function counted() {
    const queries: string[][] = [];
    const resolve = createPromptResolver(rt.database.db, (db, loopIds) => {
      queries.push(loopIds);
      return readPromptStates(db, loopIds);
    });
    return { resolve, queries };
  }

  it("answers the reads asked together with one query, each with its own loop's prompt", async () => {
    const { resolve, queries } = counted();
    const [triage, summary, again, missing] = await Promise.all([
      resolve("triage", { subject: "alice", input: {} }),
      resolve("summary", { subject: "alice", input: {} }),
      resolve("triage", { subject: "bob", input: {} }),
      resolve("no-such-loop", { subject: "alice", input: {} }),
    ]);
    expect(triage).toMatchObject({ prompt: { version: 1, systemPrompt: "Triage the patient." }, choice: { reason: "active" } });
    expect(again).toEqual(triage);
    expect(summary).toMatchObject({ prompt: { version: 1, systemPrompt: "Summarise the notes." } });
    expect(missing).toBeNull();
    expect(queries).toEqual([["triage", "summary", "no-such-loop"]]);
  });

  it("reads again for every later frame, so a promotion is used by the very next one", async () => {
    const { resolve, queries } = counted();
    expect((await resolve("triage", { subject: "alice", input: {} }))?.prompt.version).toBe(1);
    await rt.database.db.transaction(async (tx) => {
      await lockLoopForPrompts(tx, "triage");
      const next = await insertPromptVersion(tx, { loopId: "triage", systemPrompt: "Triage, briefly.", params: {}, author: "test", message: "shorter" });
      await moveActivePromptVersion(tx, { loopId: "triage", kind: "promotion", fromVersion: 1, toVersion: next.version, actor: "test", reason: "test", at: new Date() });
    });
    expect(await resolve("triage", { subject: "alice", input: {} })).toMatchObject({ prompt: { version: 2, systemPrompt: "Triage, briefly." } });
    expect(queries).toHaveLength(2);
  });

  it(kind === "pglite" ? "keeps a loop's prompt state between frames until its tables change" : "reads again for every frame", async () => {
    const { resolve, queries } = counted();
    await resolve("summary", { subject: "alice", input: {} });
    await resolve("summary", { subject: "bob", input: {} });
    expect(queries).toHaveLength(kind === "pglite" ? 1 : 2);
    // Changed in plain SQL, as no part of the application would: the next frame sees it all the same.
    await rt.database.db.execute(sql`update prompt_versions set system_prompt = 'Summarise, in French.' where loop_id = 'summary' and version = 1`);
    expect(await resolve("summary", { subject: "carol", input: {} })).toMatchObject({ prompt: { version: 1, systemPrompt: "Summarise, in French." } });
    expect(queries).toHaveLength(kind === "pglite" ? 2 : 3);
  });

  it("reads a replayed version on its own, and rejects one that does not exist", async () => {
    const { resolve, queries } = counted();
    expect(await resolve("triage", { subject: "alice", input: {}, version: 1 })).toMatchObject({ prompt: { version: 1 }, choice: { reason: "replay" } });
    await expect(resolve("triage", { subject: "alice", input: {}, version: 9 })).rejects.toThrow(/version 9/);
    expect(queries).toHaveLength(0);
  });
});
