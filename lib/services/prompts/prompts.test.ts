import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../../db/queries/audit";
import { createDbEvaluatorStore } from "../../../db/evaluator-store";
import { MAX_INPUT_DEPTH } from "../../runtime/run-input";
import { auditEvents, frames, promptRollouts, runs, scores } from "../../../db/schema";
import { DATABASE_KINDS } from "../../../test/database";
import { createTestRuntime, type TestRuntime } from "../../../test/runtime-harness";
import { isAppError } from "../../errors";
import { createRuntime, type Runtime } from "../../runtime";
import { createAnthropicModelClient } from "../../runtime/anthropic-model-client";
import { createMcpClientFactory } from "../../runtime/mcp/client-factory";
import { walkTrace } from "../../runtime/trace";
import type { Identity } from "../../runtime/types";
import { resolveActor, type Actor } from "../actor";
import { addScore } from "./add-score";
import { comparePromptVersions } from "./compare-prompt-versions";
import { completePromptRollout } from "./complete-prompt-rollout";
import { createPromptVersion } from "./create-prompt-version";
import { diffPromptVersions } from "./diff-prompt-versions";
import { getPromptVersion } from "./get-prompt-version";
import { listLoopEvaluators } from "./list-loop-evaluators";
import { listPromptPromotions } from "./list-prompt-promotions";
import { listPromptVersions } from "./list-prompt-versions";
import { listReplaySources } from "./list-replay-sources";
import { listRunScores } from "./list-run-scores";
import { promotePromptVersion } from "./promote-prompt-version";
import { removeLoopEvaluator } from "./remove-loop-evaluator";
import { replayPromptVersion } from "./replay-prompt-version";
import { rollBackPromptVersion } from "./roll-back-prompt-version";
import { setLoopEvaluator } from "./set-loop-evaluator";
import { startPromptRollout } from "./start-prompt-rollout";
import { stopPromptRollout } from "./stop-prompt-rollout";

/** The error code a use case failed with, or "ok". */
async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    if (isAppError(error)) return error.code;
    throw error;
  }
}

async function waitFor<T>(probe: () => Promise<T | null | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("Timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function systemOf(body: unknown): string | undefined {
  return (body as { system?: string }).system;
}

describe.each(DATABASE_KINDS)("prompt lifecycle on %s", (kind) => {
  let rt: TestRuntime;
  let db: TestRuntime["database"]["db"];
  let maintainer: Actor;
  let operator: Actor;
  let viewer: Actor;
  let auditor: Actor;
  let outsider: Actor;
  let operatorIdentity: Identity;

  const newVersion = (actor: Actor, loopId: string, systemPrompt: string, message = "") =>
    createPromptVersion({ db }, actor, { loopId, systemPrompt, model: "claude-test", maxTokens: 512, message });

  beforeAll(async () => {
    rt = await createTestRuntime(kind);
    db = rt.database.db;
    maintainer = await resolveActor(db, await rt.grant("clinic", "maintainer", "mia"));
    operatorIdentity = await rt.grant("clinic", "operator", "oscar");
    operator = await resolveActor(db, operatorIdentity);
    viewer = await resolveActor(db, await rt.grant("clinic", "viewer", "vera"));
    auditor = await resolveActor(db, await rt.grant("clinic", "auditor", "aude"));
    outsider = await resolveActor(db, await rt.grant("lab", "maintainer", "lars"));
    await rt.registry.registerMany([
      { id: "triage", type: "llm", realm: "clinic", llm: { model: "claude-test", systemPrompt: "You are triage v1.\nBe brief." } },
      { id: "fetch-cases", type: "http", realm: "clinic", http: { method: "GET", url: "http://127.0.0.1:9/never" } },
      { id: "lab-loop", type: "llm", realm: "lab", llm: { model: "claude-test", systemPrompt: "lab" } },
    ]);
  });

  afterAll(async () => {
    await rt?.closeAll();
  });

  describe("versions", () => {
    it("lets a maintainer create a version that is not active until promoted", async () => {
      const created = await newVersion(maintainer, "triage", "You are triage v2.\nBe thorough.", "More detail");
      expect(created).toMatchObject({ loopId: "triage", version: 2, author: "mia", message: "More detail", params: { model: "claude-test", maxTokens: 512 } });
      const list = await listPromptVersions({ db }, viewer, { loopId: "triage" });
      expect(list.versions.map((v) => [v.version, v.isActive])).toEqual([
        [2, false],
        [1, true],
      ]);
      expect(list.loop.activeVersion).toBe(1);
      expect([list.canEdit, list.canPromote]).toEqual([false, false]);
      const events = await db.select().from(auditEvents).where(eq(auditEvents.action, "prompt.version_created"));
      expect(events.map((e) => [e.targetId, (e.data as { version: number }).version])).toEqual([["triage", 2]]);
    });

    it("refuses versions from operators, other realms, for non-LLM loops, and with bad parameters", async () => {
      expect(await outcome(newVersion(operator, "triage", "x"))).toBe("forbidden");
      expect(await outcome(newVersion(outsider, "triage", "x"))).toBe("not_found");
      expect(await outcome(newVersion(maintainer, "fetch-cases", "x"))).toBe("invalid_request");
      expect(await outcome(createPromptVersion({ db }, maintainer, { loopId: "triage", systemPrompt: "x", model: "", maxTokens: 0 }))).toBe("invalid_input");
      for (const nul of [{ systemPrompt: "a\u0000b" }, { message: "why\u0000" }, { model: "m\u0000" }]) {
        expect(await outcome(createPromptVersion({ db }, maintainer, { loopId: "triage", systemPrompt: "x", model: "m", maxTokens: 10, ...nul }))).toBe("invalid_input");
      }
      expect(await outcome(createPromptVersion({ db }, maintainer, { loopId: "triage", systemPrompt: "x", model: "m", maxTokens: 10, temperature: "3" }))).toBe("invalid_input");
    });

    it("shows one version and hides it from other realms", async () => {
      const detail = await getPromptVersion({ db }, viewer, { loopId: "triage", version: "2" });
      expect(detail.version.systemPrompt).toBe("You are triage v2.\nBe thorough.");
      expect(detail.isActive).toBe(false);
      expect(await outcome(getPromptVersion({ db }, outsider, { loopId: "triage", version: 2 }))).toBe("not_found");
      expect(await outcome(getPromptVersion({ db }, viewer, { loopId: "triage", version: 99 }))).toBe("not_found");
    });

    it("diffs two versions line by line with their parameters", async () => {
      const diff = await diffPromptVersions({ db }, viewer, { loopId: "triage", from: 1, to: 2 });
      expect(diff.systemPrompt.lines.map((l) => `${l.kind}:${l.text}`)).toEqual([
        "removed:You are triage v1.",
        "removed:Be brief.",
        "added:You are triage v2.",
        "added:Be thorough.",
      ]);
      expect(diff.params.find((p) => p.name === "maxTokens")).toEqual({ name: "maxTokens", from: 1024, to: 512, changed: true });
      expect(diff.params.find((p) => p.name === "model")?.changed).toBe(false);
    });
  });

  describe("promotion and rollback", () => {
    it("lets only maintainers and admins of the realm promote", async () => {
      expect(await outcome(promotePromptVersion({ db }, operator, { loopId: "triage", version: 2, reason: "better" }))).toBe("forbidden");
      expect(await outcome(promotePromptVersion({ db }, viewer, { loopId: "triage", version: 2, reason: "better" }))).toBe("forbidden");
      expect(await outcome(promotePromptVersion({ db }, auditor, { loopId: "triage", version: 2, reason: "better" }))).toBe("forbidden");
      expect(await outcome(promotePromptVersion({ db }, outsider, { loopId: "triage", version: 2, reason: "better" }))).toBe("not_found");
      expect(await outcome(promotePromptVersion({ db }, maintainer, { loopId: "triage", version: 2, reason: "  " }))).toBe("invalid_input");
      expect((await rt.store.getActivePrompt("triage"))?.version).toBe(1);
    });

    it("promotes live for the next run, records who, when, from, to and why, and audits it", async () => {
      const before = await rt.executor.run("triage", { case: 1 }, { identity: operatorIdentity });
      expect(before.trace.prompt).toEqual({ version: 1, reason: "active" });

      const { promotion } = await promotePromptVersion({ db }, maintainer, { loopId: "triage", version: 2, reason: "Scores better on the replay set" });
      expect(promotion).toMatchObject({ kind: "promotion", fromVersion: 1, toVersion: 2, actor: "mia", reason: "Scores better on the replay set" });

      const after = await rt.executor.run("triage", { case: 2 }, { identity: operatorIdentity });
      expect(after.trace.prompt).toEqual({ version: 2, reason: "active" });
      const request = rt.model.requests.find((r) => r.frameId === after.trace.id);
      expect(systemOf(request?.body)).toBe("You are triage v2.\nBe thorough.");
      expect((request?.body as { max_tokens: number }).max_tokens).toBe(512);

      const [event] = await db.select().from(auditEvents).where(eq(auditEvents.action, "prompt.promoted"));
      expect(event).toMatchObject({ realmId: "clinic", targetType: "loop", targetId: "triage", data: { from: 1, to: 2, reason: "Scores better on the replay set" } });
      expect((event?.actor as { subject: string }).subject).toBe("mia");
    });

    it("refuses to promote the active version or an older one, and rolls back to any earlier version", async () => {
      await newVersion(maintainer, "triage", "You are triage v3.");
      expect(await outcome(promotePromptVersion({ db }, maintainer, { loopId: "triage", version: 2, reason: "again" }))).toBe("conflict");
      expect(await outcome(promotePromptVersion({ db }, maintainer, { loopId: "triage", version: 1, reason: "older" }))).toBe("invalid_request");
      expect(await outcome(rollBackPromptVersion({ db }, maintainer, { loopId: "triage", version: 3, reason: "newer" }))).toBe("invalid_request");
      expect(await outcome(rollBackPromptVersion({ db }, operator, { loopId: "triage", version: 1, reason: "incident" }))).toBe("forbidden");

      const { promotion } = await rollBackPromptVersion({ db }, maintainer, { loopId: "triage", version: 1, reason: "Answers got too long" });
      expect(promotion).toMatchObject({ kind: "rollback", fromVersion: 2, toVersion: 1 });
      expect((await rt.executor.run("triage", {}, { identity: operatorIdentity })).trace.prompt?.version).toBe(1);
      await promotePromptVersion({ db }, maintainer, { loopId: "triage", version: 2, reason: "Fixed the length" });

      const history = await listPromptPromotions({ db }, viewer, { loopId: "triage" });
      expect(history.promotions.map((p) => [p.kind, p.fromVersion, p.toVersion, p.actor])).toEqual([
        ["promotion", 1, 2, "mia"],
        ["rollback", 2, 1, "mia"],
        ["promotion", 1, 2, "mia"],
        ["registration", null, 1, "sdk"],
      ]);
      expect(await outcome(listPromptPromotions({ db }, outsider, { loopId: "triage" }))).toBe("not_found");
      const rolledBack = await db.select().from(auditEvents).where(eq(auditEvents.action, "prompt.rolled_back"));
      expect(rolledBack.map((e) => e.data)).toEqual([{ from: 2, to: 1, reason: "Answers got too long" }]);
    });

    it("lets each frame of a run in flight record the version it actually used", async () => {
      await rt.registry.registerMany([
        { id: "flight-child", type: "llm", realm: "clinic", llm: { model: "claude-test", systemPrompt: "child v1" } },
        { id: "flight-root", type: "llm", realm: "clinic", llm: { model: "claude-test", systemPrompt: "root v1", tools: [{ name: "ask", loopRef: "flight-child" }] } },
      ]);
      rt.model.setScript("flight-root", (_request, { turn }) => (turn < 2 ? { toolUses: [{ name: "ask", input: { n: turn } }] } : { text: "done" }));
      let arrived!: () => void;
      const childArrived = new Promise<void>((resolve) => (arrived = resolve));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let childCalls = 0;
      rt.model.setScript("flight-child", async () => {
        if (childCalls++ === 0) {
          arrived();
          await released;
        }
        return { text: "child answer" };
      });

      const started = await rt.executor.start("flight-root", { q: "in flight" }, { identity: operatorIdentity });
      await childArrived;
      await newVersion(maintainer, "flight-child", "child v2");
      await newVersion(maintainer, "flight-root", "root v2");
      await promotePromptVersion({ db }, maintainer, { loopId: "flight-child", version: 2, reason: "mid-run" });
      await promotePromptVersion({ db }, maintainer, { loopId: "flight-root", version: 2, reason: "mid-run" });
      release();
      const result = await started.done;

      expect(result.status).toBe("succeeded");
      expect(result.trace.prompt?.version).toBe(1);
      expect(result.trace.children.map((c) => c.prompt?.version)).toEqual([1, 2]);
      for (const frame of walkTrace(result.trace)) {
        const systems = new Set(rt.model.requests.filter((r) => r.frameId === frame.id).map((r) => systemOf(r.body)));
        const expected = `${frame.loop.id === "flight-root" ? "root" : "child"} v${frame.prompt?.version}`;
        expect([...systems]).toEqual([expected]);
      }
      expect(rt.model.requests.filter((r) => r.frameId === result.trace.id)).toHaveLength(3);
    });
  });

  describe("rollouts", () => {
    beforeAll(async () => {
      await rt.registry.register({ id: "rollout-loop", type: "llm", realm: "clinic", llm: { model: "claude-test", systemPrompt: "active prompt" } });
      await newVersion(maintainer, "rollout-loop", "candidate prompt");
    });

    it("lets only maintainers start one, for an existing non-active candidate and a valid share", async () => {
      expect(await outcome(startPromptRollout({ db }, operator, { loopId: "rollout-loop", candidateVersion: 2, percent: 30 }))).toBe("forbidden");
      expect(await outcome(startPromptRollout({ db }, outsider, { loopId: "rollout-loop", candidateVersion: 2, percent: 30 }))).toBe("not_found");
      expect(await outcome(startPromptRollout({ db }, maintainer, { loopId: "rollout-loop", candidateVersion: 1, percent: 30 }))).toBe("conflict");
      expect(await outcome(startPromptRollout({ db }, maintainer, { loopId: "rollout-loop", candidateVersion: 9, percent: 30 }))).toBe("not_found");
      expect(await outcome(startPromptRollout({ db }, maintainer, { loopId: "rollout-loop", candidateVersion: 2, percent: 100 }))).toBe("invalid_input");
      expect(await outcome(startPromptRollout({ db }, maintainer, { loopId: "rollout-loop", candidateVersion: 2, percent: 0 }))).toBe("invalid_input");
      expect(await outcome(startPromptRollout({ db }, maintainer, { loopId: "rollout-loop", candidateVersion: 2, percent: 30, stickyBy: "cookie" }))).toBe("invalid_input");
    });

    it("sends 30 % of 2,000 distinct callers to the candidate, each sticky, and records why on every frame", async () => {
      const rollout = await startPromptRollout({ db }, maintainer, { loopId: "rollout-loop", candidateVersion: 2, percent: 30 });
      expect(await outcome(startPromptRollout({ db }, maintainer, { loopId: "rollout-loop", candidateVersion: 2, percent: 10 }))).toBe("conflict");

      let candidate = 0;
      for (let i = 0; i < 2000; i++) {
        const resolved = await rt.store.resolvePrompt("rollout-loop", { subject: `caller-${i}`, input: {} });
        expect(resolved?.choice).toMatchObject({ reason: "rollout", rolloutId: rollout.id });
        if (resolved?.prompt.version === 2) candidate++;
      }
      expect(candidate).toBeGreaterThanOrEqual(520);
      expect(candidate).toBeLessThanOrEqual(680);

      // Real runs: the version each frame records is the one whose prompt reached the model.
      const arms = new Map<string, Set<number>>();
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 8; i++) {
          const identity = { ...operatorIdentity, subject: `runner-${i}` };
          const result = await rt.executor.run("rollout-loop", { round }, { identity });
          const choice = (await db.select({ c: frames.promptChoice }).from(frames).where(eq(frames.id, result.trace.id)))[0]?.c;
          expect(choice).toMatchObject({ reason: "rollout", rolloutId: rollout.id, arm: result.trace.prompt?.version === 2 ? "candidate" : "active" });
          expect(typeof (choice as { bucket: number }).bucket).toBe("number");
          const request = rt.model.requests.find((r) => r.frameId === result.trace.id);
          expect(systemOf(request?.body)).toBe(result.trace.prompt?.version === 2 ? "candidate prompt" : "active prompt");
          arms.set(identity.subject, (arms.get(identity.subject) ?? new Set()).add(result.trace.prompt!.version));
        }
      }
      expect([...arms.values()].every((versions) => versions.size === 1)).toBe(true);
    });

    it("stops a rollout: the next frame runs the active version again", async () => {
      expect(await outcome(stopPromptRollout({ db }, operator, { loopId: "rollout-loop" }))).toBe("forbidden");
      const stopped = await stopPromptRollout({ db }, maintainer, { loopId: "rollout-loop", reason: "enough data" });
      expect(stopped).toMatchObject({ outcome: "stopped", endedBy: "mia" });
      expect(await rt.store.resolvePrompt("rollout-loop", { subject: "anyone", input: {} })).toMatchObject({ prompt: { version: 1 }, choice: { reason: "active" } });
      expect(await outcome(stopPromptRollout({ db }, maintainer, { loopId: "rollout-loop" }))).toBe("conflict");
    });

    it("sticks on an input key, and completes a rollout by promoting its candidate", async () => {
      const rollout = await startPromptRollout({ db }, maintainer, { loopId: "rollout-loop", candidateVersion: 2, percent: 50, stickyBy: "input:patient.id" });
      for (let p = 0; p < 10; p++) {
        const picks = new Set<number>();
        for (const subject of ["a", "b", "c"]) {
          picks.add((await rt.store.resolvePrompt("rollout-loop", { subject, input: { patient: { id: `p-${p}` } } }))!.prompt.version);
        }
        expect(picks.size).toBe(1);
      }
      const { promotion, endedRollout } = await completePromptRollout({ db }, maintainer, { loopId: "rollout-loop" });
      expect(promotion).toMatchObject({ kind: "promotion", fromVersion: 1, toVersion: 2 });
      expect(endedRollout).toMatchObject({ id: rollout.id, outcome: "completed" });
      expect(await rt.store.resolvePrompt("rollout-loop", { subject: "anyone", input: {} })).toMatchObject({ prompt: { version: 2 }, choice: { reason: "active" } });
      const [row] = await db.select().from(promptRollouts).where(eq(promptRollouts.id, rollout.id));
      expect(row?.outcome).toBe("completed");
      const [event] = (await db.select().from(auditEvents).where(eq(auditEvents.action, "prompt.promoted"))).filter((e) => e.targetId === "rollout-loop");
      expect(event?.data).toMatchObject({ from: 1, to: 2, rollout: { id: rollout.id, outcome: "completed" } });
      expect(await outcome(completePromptRollout({ db }, maintainer, { loopId: "rollout-loop" }))).toBe("conflict");
    });

    it("ends a running rollout as stopped when someone rolls back meanwhile", async () => {
      await newVersion(maintainer, "rollout-loop", "third prompt");
      const rollout = await startPromptRollout({ db }, maintainer, { loopId: "rollout-loop", candidateVersion: 3, percent: 10 });
      const { endedRollout } = await rollBackPromptVersion({ db }, maintainer, { loopId: "rollout-loop", version: 1, reason: "incident" });
      expect(endedRollout).toMatchObject({ id: rollout.id, outcome: "stopped" });
      const history = await listPromptPromotions({ db }, viewer, { loopId: "rollout-loop" });
      expect(history.rollouts.map((r) => r.outcome)).toEqual(["stopped", "completed", "stopped"]);
    });
  });

  describe("scores and figures", () => {
    it("lets operators score a frame, attributing it to the frame's prompt version", async () => {
      const result = await rt.executor.run("triage", { case: "score me" }, { identity: operatorIdentity });
      const version = result.trace.prompt!.version;
      const score = await addScore({ db }, operator, { frameId: result.trace.id, value: 1, label: "up", comment: "spot on" });
      expect(score).toMatchObject({ frameId: result.trace.id, runId: result.runId, loopId: "triage", promptVersion: version, value: 1, label: "up", source: "human", author: "oscar" });
      const api = await addScore({ db }, maintainer, { frameId: result.trace.id, name: "accuracy", value: "0.5", source: "api" });
      expect(api).toMatchObject({ name: "accuracy", value: 0.5, label: null, source: "api" });
      const listed = await listRunScores({ db }, viewer, { runId: result.runId });
      expect(listed.scores.map((s) => s.source)).toEqual(["human", "api"]);
      expect(listed.canScore).toBe(false);
      // Text is read in decimal notation, as a form sends it.
      for (const [text, value] of [[" -2.5 ", -2.5], [".5e1", 5], ["3.", 3], ["+1E2", 100]] as const) {
        expect((await addScore({ db }, operator, { frameId: result.trace.id, name: "typed", value: text })).value).toBe(value);
      }
      // A value up to ±1e15 is stored as given, however small; a null value with a label is no value.
      for (const value of [1e15, -1e15, -2.5e-300, 0.1]) {
        expect((await addScore({ db }, operator, { frameId: result.trace.id, name: "extreme", value, source: "api" })).value).toBe(value);
      }
      expect(await addScore({ db }, operator, { frameId: result.trace.id, value: null as unknown as number, label: "meh", source: "api" })).toMatchObject({ value: null, label: "meh" });
      // The version's figures still add up with the extremes among its scores.
      const figures = await listPromptVersions({ db }, viewer, { loopId: "triage" });
      expect(figures.versions.find((v) => v.version === version)?.figures.meanScore).toEqual(expect.any(Number));
    });

    it("refuses scores from viewers and auditors, hides other realms, and needs a value or a label", async () => {
      const result = await rt.executor.run("triage", {}, { identity: operatorIdentity });
      expect(await outcome(addScore({ db }, viewer, { frameId: result.trace.id, value: 1 }))).toBe("forbidden");
      expect(await outcome(addScore({ db }, auditor, { frameId: result.trace.id, value: 1 }))).toBe("forbidden");
      expect(await outcome(addScore({ db }, outsider, { frameId: result.trace.id, value: 1 }))).toBe("not_found");
      expect(await outcome(addScore({ db }, operator, { frameId: result.trace.id, comment: "no value" }))).toBe("invalid_input");
      for (const nul of [{ comment: "a\u0000b" }, { label: "up\u0000" }, { name: "q\u0000" }]) {
        expect(await outcome(addScore({ db }, operator, { frameId: result.trace.id, value: 1, ...nul }))).toBe("invalid_input");
      }
      for (const value of [true, "high", Number.POSITIVE_INFINITY, [1], 1e16, -1e308, "1e308", "0x10", "0b1", "0o7", "Infinity", "1_000", "1.2.3"]) {
        expect(await outcome(addScore({ db }, operator, { frameId: result.trace.id, value: value as number }))).toBe("invalid_input");
      }
      expect(await outcome(addScore({ db }, operator, { frameId: "not-a-frame", value: 1 }))).toBe("not_found");
      expect(await outcome(addScore({ db }, operator, { frameId: crypto.randomUUID(), value: 1 }))).toBe("not_found");
      expect(await outcome(listRunScores({ db }, outsider, { runId: result.runId }))).toBe("not_found");
    });

    it("computes each version's runs, error rate, latency percentiles, tokens, first and last use and mean score", async () => {
      await rt.registry.register({ id: "figures", type: "llm", realm: "clinic", llm: { model: "claude-test", systemPrompt: "f1" } });
      rt.model.setScript("figures", (request) => {
        const text = typeof request.messages[0]?.content === "string" ? request.messages[0].content : "";
        return text.includes("fail") ? { error: { status: 400, message: "bad request" } } : { text: "ok", latencyMs: text.includes("slow") ? 60 : 0 };
      });
      const frameIds: string[] = [];
      for (const input of ["a", "b", "slow", "fail"]) {
        const result = await rt.executor.run("figures", input, { identity: operatorIdentity });
        frameIds.push(result.trace.id);
      }
      await addScore({ db }, operator, { frameId: frameIds[0]!, value: 1 });
      await addScore({ db }, operator, { frameId: frameIds[1]!, value: 0 });
      await addScore({ db }, operator, { frameId: frameIds[1]!, label: "unclear" });
      await newVersion(maintainer, "figures", "f2");
      await promotePromptVersion({ db }, maintainer, { loopId: "figures", version: 2, reason: "try" });
      await rt.executor.run("figures", "c", { identity: operatorIdentity });

      const list = await listPromptVersions({ db }, viewer, { loopId: "figures" });
      const [v2, v1] = list.versions;
      expect(v1?.figures).toMatchObject({ runs: 4, frames: 4, succeeded: 3, failed: 1, errorRate: 0.25, scoreCount: 2, meanScore: 0.5 });
      // percentile_cont interpolates linearly between the recorded frame durations.
      const durations = (await db.select({ d: frames.durationMs }).from(frames).where(and(eq(frames.loopId, "figures"), eq(frames.promptVersion, 1))))
        .map((r) => r.d!)
        .sort((a, b) => a - b);
      const percentile = (q: number) => {
        const at = (durations.length - 1) * q;
        return durations[Math.floor(at)]! + (durations[Math.ceil(at)]! - durations[Math.floor(at)]!) * (at - Math.floor(at));
      };
      expect(durations).toHaveLength(4);
      expect(durations.at(-1)).toBeGreaterThanOrEqual(55);
      expect(v1!.figures.latencyP50Ms).toBeCloseTo(percentile(0.5), 3);
      expect(v1!.figures.latencyP95Ms).toBeCloseTo(percentile(0.95), 3);
      expect(v1!.figures.inputTokens).toBeGreaterThan(0);
      expect(Date.parse(v1!.figures.firstUsedAt!)).toBeLessThanOrEqual(Date.parse(v1!.figures.lastUsedAt!));
      expect(v2?.figures).toMatchObject({ runs: 1, failed: 0, errorRate: 0, scoreCount: 0, meanScore: null });
      expect(Date.parse(v2!.figures.firstUsedAt!)).toBeGreaterThanOrEqual(Date.parse(v1!.figures.lastUsedAt!));
      expect(list.versions.map((v) => [v.version, v.isActive])).toEqual([
        [2, true],
        [1, false],
      ]);
    });
  });

  describe("replay and compare", () => {
    it("runs a chosen version on the inputs of recent runs and shows both side by side", async () => {
      await rt.registry.register({ id: "replay-loop", type: "llm", realm: "clinic", llm: { model: "claude-test", systemPrompt: "old" } });
      rt.model.setScript("replay-loop", (request) => ({ text: `${String(request.system)} answered ${JSON.stringify(request.messages[0]?.content)}` }));
      for (const n of [1, 2, 3]) await rt.executor.run("replay-loop", { n }, { identity: operatorIdentity });
      await newVersion(maintainer, "replay-loop", "new");

      const sources = await listReplaySources({ db }, viewer, { loopId: "replay-loop" });
      expect(sources.version).toBe(1);
      expect(sources.runs).toHaveLength(3);
      const chosen = sources.runs.slice(0, 2).map((r) => r.runId);

      expect(await outcome(replayPromptVersion({ db, executor: rt.executor }, viewer, { loopId: "replay-loop", version: 2, runIds: chosen }))).toBe("forbidden");
      expect(await outcome(replayPromptVersion({ db, executor: rt.executor }, outsider, { loopId: "replay-loop", version: 2, runIds: chosen }))).toBe("not_found");
      const foreign = (await rt.executor.run("triage", {}, { identity: operatorIdentity })).runId;
      expect(await outcome(replayPromptVersion({ db, executor: rt.executor }, operator, { loopId: "replay-loop", version: 2, runIds: [foreign] }))).toBe("not_found");

      const replay = await replayPromptVersion({ db, executor: rt.executor }, operator, { loopId: "replay-loop", version: 2, runIds: chosen.join(",") });
      expect(replay.pairs.map((p) => p.sourceRunId)).toEqual(chosen);
      await rt.executor.drain();
      expect((await rt.store.getActivePrompt("replay-loop"))?.version).toBe(1);

      const replayIds = replay.pairs.map((p) => p.replayRunId!);
      await addScore({ db }, operator, { frameId: (await rt.store.getTrace(replayIds[0]!))!.id, value: 0.9 });
      const comparison = await comparePromptVersions({ db }, viewer, {
        loopId: "replay-loop",
        a: 1,
        b: 2,
        replays: replay.pairs.map((p) => `${p.sourceRunId}:${p.replayRunId}`).join(","),
      });
      expect(comparison.a.isActive).toBe(true);
      expect(comparison.replays).toHaveLength(2);
      for (const { source, replay: replayed } of comparison.replays) {
        expect(source.promptVersion).toBe(1);
        expect(replayed).toMatchObject({ promptVersion: 2, promptChoice: { reason: "replay" }, status: "succeeded", input: source.input });
        expect(String(source.output)).toMatch(/^old answered/);
        expect(String(replayed.output)).toMatch(/^new answered/);
      }
      expect(comparison.replays[0]?.replay.scores.map((s) => s.value)).toEqual([0.9]);
      const [audit] = await db.select().from(auditEvents).where(eq(auditEvents.action, "prompt.replayed"));
      expect((audit?.data as { version: number }).version).toBe(2);
    });
  });

  describe("evaluator loops", () => {
    let evaluating: Runtime;
    const logged: string[] = [];

    /** A runtime that runs evaluator loops, sampling at 0.5, logging what it cannot score. */
    const evaluatingRuntime = () =>
      createRuntime({
        store: rt.store,
        model: createAnthropicModelClient({ apiKey: "test-key", baseURL: rt.model.url }),
        mcp: createMcpClientFactory(),
        evaluators: {
          store: createDbEvaluatorStore(db),
          random: () => 0.5,
          logger: { error: (message, error) => logged.push(`${message} ${error instanceof Error ? error.message : String(error)}`) },
        },
      });

    beforeAll(async () => {
      evaluating = evaluatingRuntime();
      await rt.registry.registerMany([
        { id: "answerer", type: "llm", realm: "clinic", llm: { model: "claude-test", systemPrompt: "answer" } },
        { id: "judge", type: "llm", realm: "clinic", llm: { model: "claude-test", systemPrompt: "judge" } },
        { id: "meta-judge", type: "llm", realm: "clinic", llm: { model: "claude-test", systemPrompt: "judge the judge" } },
        { id: "lab-judge", type: "llm", realm: "lab", llm: { model: "claude-test", systemPrompt: "lab judge" } },
      ]);
      rt.model.setScript("answerer", { steps: [{ text: "42" }] });
      rt.model.setScript("judge", { steps: [{ text: '{ "score": 0.75, "label": "good", "comment": "plausible" }' }] });
      rt.model.setScript("meta-judge", { steps: [{ text: "1" }] });
      rt.model.setScript("lab-judge", { steps: [{ text: "1" }] });
    });

    afterAll(async () => {
      await evaluating?.close();
    });

    it("lets maintainers configure evaluators, not operators or other realms", async () => {
      expect(await outcome(setLoopEvaluator({ db }, operator, { loopId: "answerer", evaluatorLoopId: "judge", sampleRate: 1 }))).toBe("forbidden");
      expect(await outcome(setLoopEvaluator({ db }, outsider, { loopId: "answerer", evaluatorLoopId: "judge", sampleRate: 1 }))).toBe("not_found");
      expect(await outcome(setLoopEvaluator({ db }, maintainer, { loopId: "answerer", evaluatorLoopId: "answerer", sampleRate: 1 }))).toBe("invalid_input");
      expect(await outcome(setLoopEvaluator({ db }, maintainer, { loopId: "answerer", evaluatorLoopId: "lab-judge", sampleRate: 1 }))).toBe("invalid_input");
      expect(await outcome(setLoopEvaluator({ db }, maintainer, { loopId: "answerer", evaluatorLoopId: "judge", sampleRate: 1.5 }))).toBe("invalid_input");
    });

    it("scores every frame at sample rate 1 with the evaluator's answer, run as the original caller", async () => {
      await setLoopEvaluator({ db }, maintainer, { loopId: "answerer", evaluatorLoopId: "judge", sampleRate: 1 });
      await setLoopEvaluator({ db }, maintainer, { loopId: "judge", evaluatorLoopId: "meta-judge", sampleRate: 1 });
      const result = await evaluating.executor.run("answerer", { question: "meaning" }, { identity: operatorIdentity });
      const score = await waitFor(async () => (await db.select().from(scores).where(eq(scores.frameId, result.trace.id)))[0]);
      expect(score).toMatchObject({ source: "evaluator", author: "judge", name: "quality", value: 0.75, label: "good", comment: "plausible", promptVersion: 1, loopId: "answerer" });
      const [evaluation] = await db.select().from(runs).where(eq(runs.id, score.evaluatorRunId!));
      expect(evaluation).toMatchObject({ loopId: "judge", caller: "oscar", status: "succeeded" });
      expect(evaluation?.input).toEqual({ input: { question: "meaning" }, output: "42", loopId: "answerer", frameId: result.trace.id, promptVersion: 1 });

      // The judge's own frame, inside an evaluation, is not evaluated by the meta-judge.
      await evaluating.close();
      const judged = await db.select().from(scores).where(eq(scores.loopId, "judge"));
      expect(judged).toEqual([]);
      expect((await listLoopEvaluators({ db }, viewer, { loopId: "answerer" })).evaluators.map((e) => [e.evaluatorLoopId, e.sampleRate])).toEqual([["judge", 1]]);
    });

    it("evaluates only the sampled share, and scores nothing (but logs why) when the caller may not run the evaluator", async () => {
      const both = await resolveActor(db, {
        subject: "bo",
        groups: [...(await rt.grant("clinic", "maintainer", "bo")).groups, ...(await rt.grant("lab", "maintainer", "bo")).groups],
        kind: "user",
        source: "test",
      });
      await rt.registry.registerMany([
        { id: "sampled-out", type: "llm", realm: "clinic", llm: { model: "claude-test", systemPrompt: "s" } },
        { id: "sampled-in", type: "llm", realm: "clinic", llm: { model: "claude-test", systemPrompt: "s" } },
        { id: "guarded", type: "llm", realm: "clinic", llm: { model: "claude-test", systemPrompt: "g" } },
      ]);
      await setLoopEvaluator({ db }, maintainer, { loopId: "sampled-out", evaluatorLoopId: "judge", sampleRate: 0.4 });
      await setLoopEvaluator({ db }, maintainer, { loopId: "sampled-in", evaluatorLoopId: "judge", sampleRate: 0.6 });
      await setLoopEvaluator({ db }, both, { loopId: "guarded", evaluatorLoopId: "lab-judge", sampleRate: 1 });
      const runtime = evaluatingRuntime();
      const out = await runtime.executor.run("sampled-out", {}, { identity: operatorIdentity });
      const inside = await runtime.executor.run("sampled-in", {}, { identity: operatorIdentity });
      const guarded = await runtime.executor.run("guarded", {}, { identity: operatorIdentity });
      await runtime.close();

      expect(await db.select().from(scores).where(eq(scores.frameId, out.trace.id))).toEqual([]);
      expect((await db.select().from(scores).where(eq(scores.frameId, inside.trace.id))).map((s) => s.source)).toEqual(["evaluator"]);
      expect(await db.select().from(scores).where(eq(scores.frameId, guarded.trace.id))).toEqual([]);
      expect(logged.some((line) => line.includes("lab-judge") && line.includes(guarded.trace.id) && line.includes("denied"))).toBe(true);

      await removeLoopEvaluator({ db }, maintainer, { loopId: "sampled-in", evaluatorLoopId: "judge" });
      expect(await outcome(removeLoopEvaluator({ db }, maintainer, { loopId: "sampled-in", evaluatorLoopId: "judge" }))).toBe("not_found");
      expect(await outcome(removeLoopEvaluator({ db }, operator, { loopId: "sampled-out", evaluatorLoopId: "judge" }))).toBe("forbidden");
    });

    it("scores a frame whose input is as deep and as large as a run's input may be", async () => {
      await rt.registry.register({ id: "deep-answerer", type: "llm", realm: "clinic", llm: { model: "claude-test", systemPrompt: "answer" } });
      rt.model.setScript("deep-answerer", { steps: [{ text: "x".repeat(900_000) }] });
      await setLoopEvaluator({ db }, maintainer, { loopId: "deep-answerer", evaluatorLoopId: "judge", sampleRate: 1 });
      let input: unknown = "x".repeat(900_000);
      for (let depth = 0; depth < MAX_INPUT_DEPTH; depth++) input = [input];
      const runtime = evaluatingRuntime();
      const result = await runtime.executor.run("deep-answerer", input, { identity: operatorIdentity });
      await runtime.close();
      expect(result.status).toBe("succeeded");
      // The evaluator's input wraps the frame's, one level deeper and twice as large: it is scored all the same.
      expect((await db.select().from(scores).where(eq(scores.frameId, result.trace.id))).map((s) => [s.author, s.value])).toEqual([["judge", 0.75]]);
    });
  });

  it("keeps the audit chain intact", async () => {
    expect((await verifyAuditChain(db)).ok).toBe(true);
  });
});
