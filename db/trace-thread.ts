import type { TraceBatch, TraceBatchWritten } from "../lib/runtime/store";
import type { Db } from "./client";

/**
 * Where a database's trace batches are written off the application's thread: PGlite's own thread
 * builds the statement and makes its JSON, so that a run's model and tool calls are not held up by
 * the recording of its trace. The batch crosses as a structured clone, which costs the
 * application less than making the JSON itself.
 */
export interface TraceThread {
  write(batch: TraceBatch): Promise<TraceBatchWritten>;
}

const threads = new WeakMap<Db, TraceThread>();

/** The trace thread of a database opened with one; transactions and other handles have none. */
export function traceThreadOf(db: Db): TraceThread | undefined {
  return threads.get(db);
}

export function attachTraceThread(db: Db, thread: TraceThread): void {
  threads.set(db, thread);
}

export function detachTraceThread(db: Db): void {
  threads.delete(db);
}
