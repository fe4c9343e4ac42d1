import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../../../test/database";
import { createTestRuntime, type TestRuntime } from "../../../test/runtime-harness";
import type { Identity } from "../../runtime/types";
import { resolveActor, type Actor } from "../actor";
import { createPromptVersion } from "./create-prompt-version";
import { promotePromptVersion } from "./promote-prompt-version";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../../", import.meta.url));
const script = fileURLToPath(new URL("../../../test/prompt-process.ts", import.meta.url));

async function secondProcess(...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", script, ...args], { cwd: root, timeout: 60_000 });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
}

/** The target: a promotion is used by the next execution in every process within a second. */
const TARGET_MS = 1000;

// Two processes can share only a server database: PGlite has no cross-process access.
describe.skipIf(!DATABASE_KINDS.includes("postgres"))("promotion across processes on postgres", () => {
  let rt: TestRuntime;
  let maintainer: Actor;
  let operator: Identity;

  beforeAll(async () => {
    rt = await createTestRuntime("postgres");
    maintainer = await resolveActor(rt.database.db, await rt.grant("ward", "maintainer", "mo"));
    operator = await rt.grant("ward", "operator", "ola");
    await rt.registry.register({ id: "shared", type: "llm", realm: "ward", llm: { model: "claude-test", systemPrompt: "prompt v1" } });
    for (const n of [2, 3]) {
      await createPromptVersion({ db: rt.database.db }, maintainer, { loopId: "shared", systemPrompt: `prompt v${n}`, model: "claude-test", maxTokens: 256 });
    }
    rt.model.setScript("shared", (request) => ({ text: `system was: ${String(request.system)}` }));
  });

  afterAll(async () => {
    await rt?.closeAll();
  });

  it("runs the version another process promoted, from the very next execution", async () => {
    expect((await rt.executor.run("shared", {}, { identity: operator })).trace.prompt?.version).toBe(1);
    const promoted = await secondProcess("promote", rt.database.location, "ward", "shared", "2");
    expect(promoted.toVersion).toBe(2);
    const result = await rt.executor.run("shared", {}, { identity: operator });
    expect(result.trace.prompt).toEqual({ version: 2, reason: "active" });
    expect(result.output).toBe("system was: prompt v2");
    expect(Date.parse(result.trace.startedAt!) - (promoted.committedAt as number)).toBeLessThan(TARGET_MS);
  });

  it("has another process run the version this process promoted", async () => {
    await promotePromptVersion({ db: rt.database.db }, maintainer, { loopId: "shared", version: 3, reason: "this process" });
    const committedAt = Date.now();
    const seen = await secondProcess("run", rt.database.location, "ward", "shared");
    expect(seen).toMatchObject({ status: "succeeded", version: 3, output: "system was: prompt v3" });
    // The other process starts cold (Node, tsx, a connection): its first frame is still the new version.
    expect(Date.parse(seen.startedAt as string)).toBeGreaterThan(committedAt);
  });
});
