import { deserialize, serialize } from "node:v8";
import type { Worker } from "node:worker_threads";
import { transferList } from "./thread-calls.mjs";

/** A result crosses as the bytes of its structured clone (absent for undefined). */
type Reply = { id: number; ok: true; data?: Uint8Array } | { id: number; ok: false; error: Record<string, unknown> & { message: string } };

export interface WorkerCalls {
  /** Sends a call to the thread; settles with its reply. */
  call<T>(op: string, args?: Record<string, unknown>): Promise<T>;
  /** Asks the thread to `close`, then stops it; later calls reject. */
  close(): Promise<void>;
  /** Stops the thread without asking it anything (it never became ready). */
  terminate(): Promise<void>;
}

export interface WorkerCallsOptions {
  /** What the thread is, for the messages that say it failed ("The PGlite database thread"). */
  name: string;
  /** Messages that are not replies (notifications). */
  onMessage?(message: unknown): void;
  /** Once, when the thread fails or exits unasked: every pending and later call rejects. */
  onFailure?(error: Error): void;
}

/**
 * Calls to a worker thread as promises: each call is a message `{ id, op, data }`, answered by
 * `{ id, ok, data | error }` (see `answerCalls` in db/thread-calls.mjs). The thread keeps
 * the process alive only while a call waits for it. Arguments and results cross as the bytes of
 * their structured clones, copied and read back by each side itself: a value that cannot be
 * copied, or read back on the other side (one nested too deep for its stack, say), fails its own
 * call alone, where a message the other side could not read would have been lost with its id
 * and left the call waiting for good. A thread that dies fails every call, then and later.
 */
export function workerCalls(worker: Worker, options: WorkerCallsOptions): WorkerCalls {
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 1;
  let failure: Error | null = null;
  let closed = false;

  worker.unref();
  const settle = (id: number) => {
    pending.delete(id);
    if (pending.size === 0) worker.unref();
  };

  worker.on("message", (message: Reply | { id?: undefined }) => {
    if (message.id === undefined) return options.onMessage?.(message);
    const waiting = pending.get(message.id);
    if (!waiting) return;
    settle(message.id);
    if (!message.ok) return waiting.reject(Object.assign(new Error(message.error.message), message.error));
    let result: unknown;
    try {
      result = message.data === undefined ? undefined : deserialize(message.data);
    } catch (error) {
      return waiting.reject(new Error(`${options.name}'s answer could not be read: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
    }
    waiting.resolve(result);
  });
  const failAll = (error: Error) => {
    const first = failure === null;
    failure ??= error;
    for (const [id, waiting] of pending) {
      settle(id);
      waiting.reject(error);
    }
    if (first && !closed) options.onFailure?.(error);
  };
  worker.on("error", (error) => {
    console.error(`${options.name} failed:`, error);
    failAll(new Error(`${options.name} failed: ${error.message}`, { cause: error }));
  });
  worker.on("exit", (code) => {
    if (!closed) console.error(`${options.name} exited (code ${code}).`);
    failAll(new Error(`${options.name} exited (code ${code})`));
  });

  function call<T>(op: string, args?: Record<string, unknown>): Promise<T> {
    if (failure) return Promise.reject(failure);
    if (closed) return Promise.reject(new Error(`${options.name} is closed`));
    const id = nextId++;
    if (pending.size === 0) worker.ref();
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      try {
        if (args === undefined) worker.postMessage({ id, op });
        else {
          const data = serialize(args);
          worker.postMessage({ id, op, data }, transferList(data));
        }
      } catch (error) {
        settle(id);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  return {
    call,
    async terminate() {
      closed = true;
      await worker.terminate();
    },
    async close() {
      if (closed) return;
      try {
        if (!failure) await call("close");
      } finally {
        closed = true;
        await worker.terminate();
      }
    },
  };
}
