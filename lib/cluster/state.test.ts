import type { PgBoss } from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getQueueHealth } from "../../db/queries/cluster";
import { insertPromptVersion, lockLoopForPrompts, moveActivePromptVersion } from "../../db/queries/prompts";
import { addRealmMapping, removeRealmMapping } from "../../db/queries/realms";
import type { Identity } from "../runtime/types";
import { everythingStdioServer } from "../../test/mcp-servers";
import { startInProcessEngine, type InProcessEngine } from "../../test/cluster/in-process-engine";
import { createTestRuntime, type TestRuntime } from "../../test/runtime-harness";
import { createClusterExecutor, type ClusterExecutor } from "./executor";
import { childFrameId } from "./ids";
import { createBoss, ensureQueues, frameStepJob, STEP_QUEUE, type StepJobInsert } from "./queue";
import { handleDatabase, type SqlDatabase } from "./sql";
import { admitFrame, claimFrame, endRunEarly, finishFrame, loadFrame, saveToolTurn, type FinishContext, type FrameState } from "./state";

const isPostgresSkipped = process.env.LOOPSTACKS_TEST_SKIP_POSTGRES === "1";

describe.skipIf(isPostgresSkipped)("resuming a parent when its last tool call is answered, on PostgreSQL", () => {
  let rt: TestRuntime;
  let db: SqlDatabase;
  let boss: PgBoss;
  let executor: ClusterExecutor;
  let operator: Identity;
  /** Ids of the jobs enqueued through `ctx`, in order. */
  const enqueued: string[] = [];
  let ctx: FinishContext;

  beforeAll(async () => {
    rt = await createTestRuntime("postgres");
    operator = await rt.grant("clinic", "operator", "pat");
    await rt.registry.registerMany([
      { id: "leaf", type: "llm", realm: "clinic", llm: { model: "claude-test" } },
      { id: "parent", type: "llm", realm: "clinic", llm: { model: "claude-test", tools: [{ name: "ask", loopRef: "leaf" }] } },
    ]);
    db = handleDatabase(rt.database);
    boss = createBoss({ handle: rt.database }, { supervise: false });
    await boss.start();
    await ensureQueues(boss);
    // No worker runs here: the test plays the steps' writes itself.
    executor = await createClusterExecutor({ handle: rt.database, store: rt.store, boss, pollMs: 60_000 });
    const counting = {
      insert: (name: string, jobs: StepJobInsert[], options: unknown) => {
        enqueued.push(...jobs.map((j) => j.id));
        return boss.insert(name, jobs as Parameters<PgBoss["insert"]>[1], options as Parameters<PgBoss["insert"]>[2]);
      },
    };
    ctx = { boss: counting as unknown as PgBoss };
  });

  afterAll(async () => {
    await executor?.close();
    await boss?.stop({ graceful: false, close: false });
    await rt?.closeAll();
  });

  /** A running parent whose first turn asked for two children, both still queued. */
  async function parentWaitingForTwo(): Promise<{ parent: FrameState; children: FrameState[]; resumption: string }> {
    const { runId } = await executor.start("parent", {}, { identity: operator });
    const { rows } = await db.query<{ id: string }>(`select id from frames where run_id = $1 and depth = 0`, [runId]);
    const parentId = rows[0]!.id;
    const queued = (await claimFrame(db, parentId, "test", new Date(Date.now() + 60_000), { readsRealmMappings: true }))!;
    const at = new Date();
    const authorization = { allowed: true, action: "invoke" as const, realm: "clinic", role: "operator" as const, via: "test", reason: "test", checkedAt: at.toISOString() };
    expect(await admitFrame(db, queued, { authorization, promptVersion: null, promptChoice: null, model: "claude-test", startedAt: at, leaseOwner: "test", leaseExpiresAt: new Date(Date.now() + 60_000) })).toBe(true);
    const parent = (await loadFrame(db, parentId))!;
    const calls = ["toolu_a", "toolu_b"].map((id, position) => ({ id, position, name: "ask", kind: "loop" as const, input: {}, childFrameId: childFrameId(parentId, id) }));
    const open = await db.transaction((tx) =>
      saveToolTurn(tx, boss, {
        frame: parent,
        turn: 1,
        assistant: { role: "assistant", content: calls.map((c) => ({ type: "tool_use", id: c.id, name: c.name, input: {} })) },
        stopReason: "tool_use",
        turnTokens: { inputTokens: 0, outputTokens: 0 },
        usage: { inputTokens: 0, outputTokens: 0, attempts: [] },
        calls,
        children: calls.map((c) => ({ id: c.childFrameId, toolUseId: c.id, realmId: "clinic", loopId: "leaf", loopRevision: 1, loopType: "llm", input: {} })),
        jobs: [],
        at,
      }),
    );
    expect(open).toBe(2);
    const children = await Promise.all(calls.map(async (c) => (await loadFrame(db, c.childFrameId))!));
    return { parent, children, resumption: frameStepJob(runId, parentId, { afterTurn: 1 }).id };
  }

  const succeed = (tx: Parameters<Parameters<SqlDatabase["transaction"]>[0]>[0], child: FrameState) =>
    finishFrame(tx, child, { status: "succeeded", output: "answer", error: null, endedAt: new Date() }, { inputTokens: 0, outputTokens: 0, attempts: [] }, ctx);

  async function openCount(frameId: string): Promise<number | null> {
    const { rows } = await db.query<{ open: number | null }>(`select open_tool_calls as open from frames where id = $1`, [frameId]);
    return rows[0]!.open;
  }

  it("resumes the parent exactly once when two children end at the same moment", async () => {
    const { parent, children, resumption } = await parentWaitingForTwo();
    expect(await openCount(parent.id)).toBe(2);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let firstAnswered!: () => void;
    const answered = new Promise<void>((resolve) => (firstAnswered = resolve));
    // The first child's transaction answers its call and holds the parent row until released.
    const first = db.transaction(async (tx) => {
      await succeed(tx, children[0]!);
      firstAnswered();
      await held;
    });
    await answered;
    let isSecondDone = false;
    const second = db.transaction((tx) => succeed(tx, children[1]!)).finally(() => (isSecondDone = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The second waits for the parent row; once it has it, it sees the first answer.
    expect(isSecondDone).toBe(false);
    release();
    await Promise.all([first, second]);
    expect(enqueued.filter((id) => id === resumption)).toHaveLength(1);
    expect(await openCount(parent.id)).toBe(0);
    const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from pgboss.job where id = $1`, [resumption]);
    expect(rows[0]!.n).toBe(1);
  });

  it("resumes a parent whose turn was saved without a count of open calls (before the column existed)", async () => {
    const { parent, children, resumption } = await parentWaitingForTwo();
    await db.query(`update frames set open_tool_calls = null where id = $1`, [parent.id]);
    await db.transaction((tx) => succeed(tx, children[0]!));
    expect(enqueued).not.toContain(resumption);
    await db.transaction((tx) => succeed(tx, children[1]!));
    expect(enqueued.filter((id) => id === resumption)).toHaveLength(1);
    expect(await openCount(parent.id)).toBeNull();
  });

  /** `db`, counting the transactions begun through it. */
  function countingTransactions(): { db: SqlDatabase; count: () => number } {
    let count = 0;
    return {
      db: { query: (text, params) => db.query(text, params), transaction: (fn) => (count++, db.transaction(fn)) },
      count: () => count,
    };
  }

  const cancelled = { status: "cancelled" as const, error: { code: "cancelled", message: "stop" } };
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it("cancels a run while a child is ending: the cancel takes the frames children first, as the child does, and meets no deadlock", async () => {
    const { parent, children } = await parentWaitingForTwo();
    const counting = countingTransactions();
    let cancel!: Promise<boolean>;
    // The child's ending holds its own row, then (once the cancel waits) wants its parent's.
    await db.transaction(async (tx) => {
      await tx.query(`update frames set turns = turns where id = $1`, [children[0]!.id]);
      cancel = endRunEarly(counting.db, parent.runId, cancelled, new Date());
      await pause(300);
      expect(await succeed(tx, children[0]!)).toBe(true);
    });
    expect(await cancel).toBe(true);
    expect(counting.count()).toBe(1);
    const { rows } = await db.query<{ id: string; status: string }>(`select id, status from frames where run_id = $1 order by depth, id`, [parent.runId]);
    expect(Object.fromEntries(rows.map((r) => [r.id, r.status]))).toEqual({ [parent.id]: "cancelled", [children[0]!.id]: "succeeded", [children[1]!.id]: "cancelled" });
    expect((await db.query<{ status: string }>(`select status from runs where id = $1`, [parent.runId])).rows[0]!.status).toBe("cancelled");
  });

  it("cancels a run even when PostgreSQL breaks a deadlock by rolling the cancel back: the cancel runs again", async () => {
    const { parent } = await parentWaitingForTwo();
    const counting = countingTransactions();
    let cancel!: Promise<boolean>;
    // Another transaction takes the root frame, then the run row (as a root frame's ending does), and gives up.
    await expect(
      db.transaction(async (tx) => {
        await tx.query(`update frames set turns = turns where id = $1`, [parent.id]);
        cancel = endRunEarly(counting.db, parent.runId, cancelled, new Date());
        await pause(300);
        await tx.query(`update runs set frame_count = frame_count where id = $1`, [parent.runId]);
        throw new Error("gave up");
      }),
    ).rejects.toThrow("gave up");
    expect(await cancel).toBe(true);
    expect(counting.count()).toBeGreaterThan(1);
    const { rows } = await db.query<{ status: string; n: number }>(`select status, count(*)::int as n from frames where run_id = $1 group by status`, [parent.runId]);
    expect(rows).toEqual([{ status: "cancelled", n: 3 }]);
  });

  it("answers nothing twice: a replayed ending neither counts again nor resumes again", async () => {
    const { parent, children, resumption } = await parentWaitingForTwo();
    await db.transaction((tx) => succeed(tx, children[0]!));
    expect(await db.transaction((tx) => succeed(tx, children[0]!))).toBe(false);
    expect(await openCount(parent.id)).toBe(1);
    expect(enqueued).not.toContain(resumption);
    await db.transaction((tx) => succeed(tx, children[1]!));
    await db.transaction((tx) => succeed(tx, children[1]!));
    expect(enqueued.filter((id) => id === resumption)).toHaveLength(1);
    expect(await openCount(parent.id)).toBe(0);
  });
});

describe.skipIf(isPostgresSkipped)("a worker on PostgreSQL: what it reads when it starts a frame, and resuming a frame after its tools", () => {
  let rt: TestRuntime;
  let engine: InProcessEngine;
  let executor: ClusterExecutor;
  let operator: Identity;
  let afterTurn: (() => Promise<void>) | null = null;

  beforeAll(async () => {
    rt = await createTestRuntime("postgres");
    operator = await rt.grant("clinic", "operator", "pat");
    await rt.registry.registerMany([
      { id: "leaf", type: "llm", realm: "clinic", llm: { model: "claude-test", systemPrompt: "First prompt." } },
      { id: "asker", type: "llm", realm: "clinic", llm: { model: "claude-test", tools: [{ name: "ask", loopRef: "leaf" }] } },
      {
        id: "tool-user",
        type: "llm",
        realm: "clinic",
        llm: {
          model: "claude-test",
          tools: [
            { name: "sum", mcp: { server: everythingStdioServer(), tool: "get-sum" } },
            { name: "echo", mcp: { server: everythingStdioServer(), tool: "echo" } },
          ],
        },
      },
    ]);
    // Three MCP tools at once: three tool steps, any of which may answer last.
    rt.model.setScript("tool-user", (_req, { turn }) =>
      turn === 0
        ? { toolUses: [{ name: "sum", input: { a: 2, b: 3 } }, { name: "echo", input: { message: "hello" } }, { name: "sum", input: { a: 10, b: 20 } }] }
        : { text: "tools done" },
    );
    rt.model.setScript("leaf", () => ({ text: "leaf answer" }));
    // The asker's first turn changes what the database holds, then asks its child.
    rt.model.setScript("asker", async (_req, { turn }) => {
      if (turn > 0) return { text: "asker done" };
      await afterTurn?.();
      return { toolUses: [{ name: "ask", input: {} }] };
    });
    engine = await startInProcessEngine(rt);
    ({ executor } = engine);
  });

  afterAll(async () => {
    await engine?.close();
    await rt?.closeAll();
  });

  it("runs the child on the prompt version promoted while its parent was asking the model", async () => {
    afterTurn = async () => {
      await rt.database.db.transaction(async (tx) => {
        await lockLoopForPrompts(tx, "leaf");
        const next = await insertPromptVersion(tx, { loopId: "leaf", systemPrompt: "Second prompt.", params: {}, author: "test", message: "newer" });
        await moveActivePromptVersion(tx, { loopId: "leaf", kind: "promotion", fromVersion: 1, toVersion: next.version, actor: "test", reason: "test", at: new Date() });
      });
    };
    const result = await executor.run("asker", {}, { identity: operator });
    expect(result.status).toBe("succeeded");
    const [child] = result.trace.children;
    expect(child).toMatchObject({ status: "succeeded", prompt: { version: 2, reason: "active" } });
    expect((rt.model.requests.find((r) => r.frameId === child!.id)?.body as { system?: string }).system).toBe("Second prompt.");
  });

  it("denies the child when the caller's mapping was removed while its parent was asking the model, and allows the next frame once it is back", async () => {
    const group = operator.groups[0]!;
    afterTurn = async () => {
      await removeRealmMapping(rt.database.db, { realmId: "clinic", groupDn: group, role: "operator" });
    };
    const denied = await executor.run("asker", {}, { identity: operator });
    expect(denied.status).toBe("succeeded");
    expect(denied.trace.authorization.allowed).toBe(true);
    expect(denied.trace.children[0]).toMatchObject({ status: "denied", authorization: { allowed: false, realm: "clinic" } });

    const refused = await executor.run("asker", {}, { identity: operator });
    expect(refused.status).toBe("denied");
    afterTurn = null;
    await addRealmMapping(rt.database.db, { realmId: "clinic", groupDn: group, role: "operator", createdBy: "test" });
    const allowed = await executor.run("asker", {}, { identity: operator });
    expect(allowed.status).toBe("succeeded");
    expect(allowed.trace.children[0]).toMatchObject({ status: "succeeded", authorization: { allowed: true, role: "operator" } });
  });
  it("resumes an LLM frame once when the MCP tools it called directly have all answered", async () => {
    const result = await executor.run("tool-user", {}, { identity: operator });
    expect(result.status).toBe("succeeded");
    expect(result.output).toBe("tools done");
    expect(result.trace.toolCalls).toHaveLength(3);
    expect(result.trace.toolCalls.every((c) => c.endedAt !== null && !c.isError)).toBe(true);
    const asked = rt.model.requests.filter((r) => r.frameId === result.trace.id);
    expect(asked).toHaveLength(2);
    const results = ((asked[1]!.body as { messages: { content: unknown }[] }).messages[2]!.content as { type: string; content: string }[]).map((b) => b.content);
    expect(results.join(" ")).toMatch(/5/);
    expect(results.join(" ")).toMatch(/hello/);
    expect(results.join(" ")).toMatch(/30/);
  });
});

describe.skipIf(isPostgresSkipped)("queue health on PostgreSQL: work waiting with no live worker", () => {
  let rt: TestRuntime;
  let boss: PgBoss;
  let executor: ClusterExecutor;
  let operator: Identity;

  beforeAll(async () => {
    rt = await createTestRuntime("postgres");
    operator = await rt.grant("clinic", "operator", "pat");
    await rt.registry.registerMany([{ id: "leaf", type: "llm", realm: "clinic", llm: { model: "claude-test" } }]);
    boss = createBoss({ handle: rt.database }, { supervise: false });
    await boss.start();
    await ensureQueues(boss);
    executor = await createClusterExecutor({ handle: rt.database, store: rt.store, boss, pollMs: 60_000 });
  });

  afterAll(async () => {
    await executor?.close();
    await boss?.stop({ graceful: false, close: false });
    await rt?.closeAll();
  });

  it("is degraded while a run's step is held by a lost worker, or a run is in progress with no step at all, until a worker is live", async () => {
    const db = handleDatabase(rt.database);
    const heartbeat = (id: string, at: Date) =>
      db.query(
        `insert into workers (id, host, pid, version, started_at, heartbeat_at, current_work, processed) values ($1, 'h', 1, 'test', $2, $2, '[]'::jsonb, 0)
         on conflict (id) do update set heartbeat_at = excluded.heartbeat_at`,
        [id, at],
      );
    await heartbeat("lost", new Date(Date.now() - 60_000));
    expect(await getQueueHealth(rt.database.db)).toMatchObject({ status: "ok", workers: { live: 0, lost: 1 }, runs: { inProgress: 0 } });

    const { runId } = await executor.start("leaf", {}, { identity: operator });
    expect(await getQueueHealth(rt.database.db)).toMatchObject({ status: "degraded", steps: { ready: 1 } });
    // The lost worker had taken the step: it is active, and nobody will finish it.
    const [job] = await boss.fetch(STEP_QUEUE);
    expect(job).toBeDefined();
    expect(await getQueueHealth(rt.database.db)).toMatchObject({ status: "degraded", workers: { live: 0 }, steps: { ready: 0, deferred: 0, active: 1 }, runs: { inProgress: 1 } });
    // The step is gone, the run is not over.
    await boss.complete(STEP_QUEUE, job!.id);
    expect(await getQueueHealth(rt.database.db)).toMatchObject({ status: "degraded", steps: { ready: 0, deferred: 0, active: 0 }, runs: { inProgress: 1 } });
    // A process that executes its runs itself does not wait for workers.
    expect(await getQueueHealth(rt.database.db, { countsRunsInProgress: false })).toMatchObject({ status: "ok", runs: { inProgress: 0 } });

    await heartbeat("live", new Date());
    expect(await getQueueHealth(rt.database.db)).toMatchObject({ status: "ok", workers: { live: 1, lost: 1 }, runs: { inProgress: 1 } });
    await executor.cancelRun(runId);
    await db.query(`delete from workers where id = 'live'`);
    expect(await getQueueHealth(rt.database.db)).toMatchObject({ status: "ok", runs: { inProgress: 0 } });
  });
});
