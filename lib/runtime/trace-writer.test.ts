import { describe, expect, it } from "vitest";
import type { FrameRow, NewFrame, RunEndRow, RuntimeStore, SavedTurn, ToolCallRow, TurnRow } from "./store";
import { createTraceWriter } from "./trace-writer";

type Batch = { frames: FrameRow[]; toolCalls: ToolCallRow[]; frameUpdates?: FrameRow[]; toolCallUpdates?: ToolCallRow[]; turns?: TurnRow[]; runEnds?: RunEndRow[] };

/** Records the batches a writer sends; `fail` makes the next writes throw. */
function recordingStore(options: { fail?: number; delayMs?: number } = {}) {
  const batches: Batch[] = [];
  let failuresLeft = options.fail ?? 0;
  const store = {
    async writeTraceBatch(batch: Batch) {
      await new Promise((r) => setTimeout(r, options.delayMs ?? 1));
      if (failuresLeft > 0) {
        failuresLeft--;
        throw new Error("connection reset");
      }
      batches.push(structuredClone(batch));
    },
  } as unknown as RuntimeStore;
  return { store, batches };
}

function frame(id: string): NewFrame {
  return {
    id,
    runId: "run",
    parentFrameId: null,
    parentToolCallId: null,
    depth: 0,
    seq: 0,
    realmId: "r",
    loopId: "l",
    loopRevision: 1,
    loopType: "llm",
    promptVersion: null,
    promptChoice: null,
    status: "running",
    input: { q: 1 },
    model: null,
    identity: { subject: "u", groups: [], kind: "user", source: "test" },
    authorization: { allowed: true, action: "invoke", realm: "r", role: "operator", via: "g", reason: "", checkedAt: "" },
    createdAt: new Date(0),
    startedAt: new Date(0),
  };
}

describe("createTraceWriter", () => {
  it("merges changes made in one tick into one batch with each row's latest state", async () => {
    const { store, batches } = recordingStore();
    const writer = createTraceWriter(store);
    writer.insertFrame(frame("a"));
    writer.insertFrame(frame("b"));
    writer.updateFrame("a", { status: "succeeded", output: "done", endedAt: new Date(5) });
    writer.insertToolCall({ frameId: "a", id: "t1", runId: "run", turn: 1, position: 0, name: "x", kind: "loop", input: {}, childFrameId: "b", startedAt: new Date(1) });
    await writer.flush();
    expect(batches).toHaveLength(1);
    expect(batches[0]!.frames.map((f) => [f.id, f.status, f.output ?? null])).toEqual([
      ["a", "succeeded", "done"],
      ["b", "running", null],
    ]);
    expect(batches[0]!.toolCalls).toHaveLength(1);
  });

  it("writes changes made during a write in the next batch, and flush waits for them", async () => {
    const { store, batches } = recordingStore({ delayMs: 20 });
    const writer = createTraceWriter(store, () => {}, { lingerMs: 1 });
    writer.insertFrame(frame("a"));
    // The first batch is being written.
    await new Promise((r) => setTimeout(r, 5));
    writer.updateFrame("a", { status: "failed" });
    await writer.flush();
    // The second batch updates the stored row instead of writing it whole again.
    expect(batches.map((b) => (b.frames[0] ?? b.frameUpdates?.[0])!.status)).toEqual(["running", "failed"]);
    expect(batches[1]!.frames).toEqual([]);
  });

  it("sends rows it has stored as updates, and rows recorded anew whole", async () => {
    const { store, batches } = recordingStore();
    const writer = createTraceWriter(store);
    writer.insertFrame(frame("a"));
    writer.insertToolCall({ frameId: "a", id: "t1", runId: "run", turn: 1, position: 0, name: "x", kind: "mcp", input: {}, childFrameId: null, startedAt: new Date(1) });
    await writer.flush();
    writer.updateFrame("a", { status: "succeeded", output: "done", endedAt: new Date(5) });
    writer.finishToolCall("a", "t1", { output: "ok", isError: false, endedAt: new Date(4), durationMs: 3 });
    writer.insertFrame(frame("b"));
    await writer.flush();
    expect(batches).toHaveLength(2);
    expect(batches[0]!.frames.map((f) => f.id)).toEqual(["a"]);
    expect(batches[0]!.toolCalls.map((c) => c.id)).toEqual(["t1"]);
    expect(batches[0]!.frameUpdates).toBeUndefined();
    expect(batches[1]!.frames.map((f) => f.id)).toEqual(["b"]);
    expect(batches[1]!.frameUpdates?.map((f) => [f.id, f.status, f.output])).toEqual([["a", "succeeded", "done"]]);
    expect(batches[1]!.toolCalls).toEqual([]);
    expect(batches[1]!.toolCallUpdates?.map((c) => [c.id, c.output])).toEqual([["t1", "ok"]]);
  });

  it("keeps sending a row whole until a batch holding it is written", async () => {
    const { store, batches } = recordingStore({ fail: 1 });
    const writer = createTraceWriter(store);
    writer.insertFrame(frame("a"));
    await writer.flush();
    writer.updateFrame("a", { status: "failed" });
    await writer.flush();
    // The failed batch stored nothing: its retry wrote the row whole, and only then is it updated.
    expect(batches[0]!.frames.map((f) => f.id)).toEqual(["a"]);
    expect(batches.at(-1)!.frameUpdates?.map((f) => f.status)).toEqual(["failed"]);
  });

  it("retries a failed write and keeps the rows", async () => {
    const errors: unknown[] = [];
    const { store, batches } = recordingStore({ fail: 2 });
    const writer = createTraceWriter(store, (e) => errors.push(e));
    writer.insertFrame(frame("a"));
    await writer.flush();
    expect(errors).toHaveLength(2);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.frames[0]!.id).toBe("a");
  });

  it("rejects flush once writes keep failing, says it is failing, and recovers when a write succeeds", async () => {
    let isDown = true;
    const batches: Batch[] = [];
    const store = {
      async writeTraceBatch(batch: Batch) {
        await new Promise((r) => setTimeout(r, 1));
        if (isDown) throw new Error("connection reset");
        batches.push(structuredClone(batch));
      },
    } as unknown as RuntimeStore;
    const writer = createTraceWriter(store);
    writer.insertFrame(frame("a"));
    expect(writer.isFailing()).toBe(false);
    await expect(writer.flush()).rejects.toThrow("connection reset");
    expect(writer.isFailing()).toBe(true);
    isDown = false;
    await writer.flush();
    expect(writer.isFailing()).toBe(false);
    expect(batches.flatMap((b) => b.frames.map((f) => f.id))).toEqual(["a"]);
  });

  it("keeps its backoff while the database is away, however often it is flushed", async () => {
    let attempts = 0;
    const store = {
      async writeTraceBatch() {
        attempts++;
        throw new Error("connection reset");
      },
    } as unknown as RuntimeStore;
    const writer = createTraceWriter(store);
    writer.insertFrame(frame("a"));
    const flushes: Promise<void>[] = [];
    for (let i = 0; i < 30; i++) {
      flushes.push(writer.flush().catch(() => {}));
      await new Promise((r) => setTimeout(r, 5));
    }
    // About 150 ms: the first round, and one after 100 ms, which also tries the row on its own
    // (with and without its payload); a round per flush would be some 30.
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(attempts).toBeLessThanOrEqual(5);
    expect(writer.isFailing()).toBe(false);
  });

  it("gathers the changes of a few milliseconds into one batch, which a flush sends at once", async () => {
    const { store, batches } = recordingStore();
    const writer = createTraceWriter(store, () => {}, { lingerMs: 50 });
    writer.insertFrame(frame("a"));
    await new Promise((r) => setTimeout(r, 10));
    writer.updateFrame("a", { status: "succeeded", endedAt: new Date(2) });
    writer.insertFrame(frame("b"));
    expect(batches).toHaveLength(0);
    await writer.flush();
    expect(batches).toHaveLength(1);
    expect(batches[0]!.frames.map((f) => [f.id, f.status])).toEqual([["a", "succeeded"], ["b", "running"]]);
  });

  it("sends a saved turn in the batch with the rows recorded before it, and resolves once that batch is written", async () => {
    const { store, batches } = recordingStore({ delayMs: 20, fail: 1 });
    const writer = createTraceWriter(store);
    const turn = (n: number, text: string): SavedTurn => ({ turn: n, messages: [{ role: "assistant", content: text }], stopReason: "end_turn", inputTokens: 1, outputTokens: 2 });
    writer.insertFrame(frame("a"));
    let saved = false;
    const saving = writer.saveTurn("a", turn(1, "first"), new Date(3)).then(() => (saved = true));
    await new Promise((r) => setTimeout(r, 5));
    expect(saved).toBe(false);
    // The same turn saved again before it was written: only its latest state is sent.
    const again = writer.saveTurn("a", turn(1, "second"), new Date(4));
    await Promise.all([saving, again]);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.frames.map((f) => f.id)).toEqual(["a"]);
    expect(batches[0]!.turns).toEqual([{ frameId: "a", turn: turn(1, "second"), createdAt: new Date(4) }]);
    // Nothing is left to send once the turn is written.
    await writer.flush();
    expect(batches).toHaveLength(1);
  });

  it("resolves a saved turn once its own batch is written, while later changes keep the writer busy", async () => {
    const { store, batches } = recordingStore({ delayMs: 20 });
    const writer = createTraceWriter(store);
    writer.insertFrame(frame("a"));
    let savedAfterBatches = -1;
    const saving = writer.saveTurn("a", { turn: 1, messages: [], stopReason: "end_turn", inputTokens: 0, outputTokens: 0 }, new Date(1)).then(() => {
      savedAfterBatches = batches.length;
    });
    // Other runs keep recording: the writer is never idle until this loop ends.
    for (let i = 0; i < 20; i++) {
      writer.insertFrame(frame(`busy-${i}`));
      await new Promise((r) => setTimeout(r, 5));
    }
    await saving;
    await writer.flush();
    expect(savedAfterBatches).toBeGreaterThanOrEqual(1);
    expect(savedAfterBatches).toBeLessThan(batches.length);
    expect(batches.flatMap((b) => b.turns ?? [])).toHaveLength(1);
    expect(batches[savedAfterBatches - 1]!.turns).toHaveLength(1);
  });

  it("stores a row the database refuses with its payload replaced by the reason, and goes on writing", async () => {
    const batches: Batch[] = [];
    const store = {
      async writeTraceBatch(batch: Batch) {
        await new Promise((r) => setTimeout(r, 1));
        if (batch.frames.some((f) => JSON.stringify(f.output ?? null).includes("poison"))) throw new Error("unsupported value");
        batches.push(structuredClone(batch));
      },
    } as unknown as RuntimeStore;
    const errors: string[] = [];
    const writer = createTraceWriter(store, (e) => errors.push((e as Error).message));
    writer.insertFrame(frame("parent"));
    writer.insertFrame({ ...frame("child"), parentFrameId: "parent", depth: 1 });
    writer.updateFrame("child", { status: "succeeded", output: { text: "poison" }, endedAt: new Date(2) });
    writer.insertToolCall({ frameId: "parent", id: "t1", runId: "run", turn: 1, position: 0, name: "x", kind: "loop", input: {}, childFrameId: "child", startedAt: new Date(1) });
    await writer.flush();
    const stored = batches.flatMap((b) => b.frames);
    expect(stored.map((f) => f.id)).toEqual(["parent", "child"]);
    expect(stored[1]).toMatchObject({ status: "succeeded", output: { unstorable: "This value could not be stored: unsupported value" } });
    expect(batches.flatMap((b) => b.toolCalls).map((c) => c.id)).toEqual(["t1"]);
    expect(errors.at(-1)).toMatch(/stored without its payload/);
    expect(writer.alteredWrites()).toBe(1);
    writer.insertFrame(frame("next"));
    await writer.flush();
    expect(batches.at(-1)!.frames.map((f) => f.id)).toEqual(["next"]);
  });

  it("counts the writes that stored a value differently from how it was recorded", async () => {
    let replace = false;
    const store = {
      async writeTraceBatch() {
        return { replacedValues: replace };
      },
    } as unknown as RuntimeStore;
    const writer = createTraceWriter(store);
    writer.insertFrame(frame("plain"));
    await writer.flush();
    expect(writer.alteredWrites()).toBe(0);
    replace = true;
    writer.insertFrame(frame("with-nul"));
    await writer.flush();
    expect(writer.alteredWrites()).toBe(1);
  });

  it("ends a run in the batch with its last rows, at once, and keeps the end queued while writes fail", async () => {
    const { store, batches } = recordingStore({ fail: 1 });
    const writer = createTraceWriter(store, () => {}, { lingerMs: 1_000 });
    writer.insertFrame(frame("root"));
    writer.updateFrame("root", { status: "succeeded", output: "done", endedAt: new Date(9) });
    const started = Date.now();
    await writer.finishRun("run", { status: "succeeded", output: "done", endedAt: new Date(9), frameCount: 1, inputTokens: 3, outputTokens: 4 });
    // Not held for the linger: the end is written as a flush is.
    expect(Date.now() - started).toBeLessThan(900);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.frames.map((f) => [f.id, f.status])).toEqual([["root", "succeeded"]]);
    expect(batches[0]!.runEnds).toEqual([{ runId: "run", status: "succeeded", output: "done", endedAt: new Date(9), frameCount: 1, inputTokens: 3, outputTokens: 4 }]);
  });

  it("stores a run end the database refuses with its output and error replaced by the reason", async () => {
    const batches: Batch[] = [];
    const store = {
      async writeTraceBatch(batch: Batch) {
        if (batch.runEnds?.some((r) => JSON.stringify(r.output ?? null).includes("poison"))) throw new Error("unsupported value");
        batches.push(structuredClone(batch));
      },
    } as unknown as RuntimeStore;
    const writer = createTraceWriter(store);
    writer.insertFrame(frame("root"));
    await writer.finishRun("run", { status: "failed", output: { text: "poison" }, error: { code: "tool_error", message: "poison" }, endedAt: new Date(2) });
    expect(batches.flatMap((b) => b.frames.map((f) => f.id))).toEqual(["root"]);
    const ends = batches.flatMap((b) => b.runEnds ?? []);
    expect(ends).toEqual([
      {
        runId: "run",
        status: "failed",
        output: { unstorable: "This value could not be stored: unsupported value" },
        error: { code: "tool_error", message: "This value could not be stored: unsupported value" },
        endedAt: new Date(2),
      },
    ]);
    expect(writer.alteredWrites()).toBe(1);
  });

  it("refuses an update to a frame it never recorded", () => {
    const writer = createTraceWriter(recordingStore().store);
    expect(() => writer.updateFrame("ghost", { status: "failed" })).toThrow(/not recorded/);
  });
});
