import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../../test/database";
import { createTestRuntime, type TestRuntime } from "../../test/runtime-harness";
import type { RunResult } from "../../lib/runtime/types";
import { getFramePromptDetails } from "./prompt-details";

describe.each(DATABASE_KINDS)("getFramePromptDetails on %s", (kind) => {
  let rt: TestRuntime;
  let first: RunResult;
  let second: RunResult;

  beforeAll(async () => {
    rt = await createTestRuntime(kind);
    const alice = await rt.grant("alpha", "operator", "alice");
    await rt.registry.register({ id: "helper", type: "http", realm: "alpha", http: { method: "GET", url: "http://127.0.0.1:9/" } }, { actor: "alice" });
    await rt.registry.register({ id: "triage", type: "llm", realm: "alpha", llm: { model: "m", systemPrompt: "You triage. v1" } }, { actor: "pat" });
    first = await rt.executor.run("triage", {}, { identity: alice });
    await rt.registry.register({ id: "triage", type: "llm", realm: "alpha", llm: { model: "m", systemPrompt: "You triage. v2" } }, { actor: "quinn" });
    second = await rt.executor.run("triage", {}, { identity: alice });
  });

  afterAll(async () => {
    await rt?.closeAll();
  });

  it("returns the version a frame ran with the promotion in force at the time", async () => {
    const details = await getFramePromptDetails(rt.database.db, { runId: first.runId, frameId: first.trace.id, scope: ["alpha"] });
    expect(details).toMatchObject({
      prompt: { loopId: "triage", version: 1, systemPrompt: "You triage. v1", author: "pat" },
      choice: "active",
      promotion: { kind: "registration", fromVersion: null, toVersion: 1, actor: "pat" },
      isActiveNow: false,
    });

    const later = await getFramePromptDetails(rt.database.db, { runId: second.runId, frameId: second.trace.id, scope: ["alpha"] });
    expect(later).toMatchObject({
      prompt: { version: 2, systemPrompt: "You triage. v2", author: "quinn" },
      promotion: { toVersion: 2, fromVersion: 1, actor: "quinn" },
      isActiveNow: true,
    });
  });

  it("answers null outside the caller's realms, for another run's id, and for a frame without a prompt", async () => {
    const params = { runId: first.runId, frameId: first.trace.id };
    expect(await getFramePromptDetails(rt.database.db, { ...params, scope: ["beta"] })).toBeNull();
    expect(await getFramePromptDetails(rt.database.db, { ...params, scope: [] })).toBeNull();
    expect(await getFramePromptDetails(rt.database.db, { ...params, runId: second.runId, scope: ["alpha"] })).toBeNull();

    const http = await rt.executor.run("helper", {}, { identity: await rt.grant("alpha", "operator", "bob") });
    expect(http.trace.prompt).toBeNull();
    expect(await getFramePromptDetails(rt.database.db, { runId: http.runId, frameId: http.trace.id, scope: ["alpha"] })).toBeNull();
  });
});
