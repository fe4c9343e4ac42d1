import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

/** A statement's result, as PGlite returns it. */
export interface PgliteResults<T = Record<string, unknown>> {
  rows: T[];
  fields: { name: string; dataTypeID: number }[];
  affectedRows?: number;
}

export interface PgliteQueryOptions {
  rowMode?: "array" | "object";
  /** Per type id, how a value is read; only the raw text (`(value) => value`) is supported. */
  parsers?: Record<number, (value: string, typeId: number) => unknown>;
}

/** What PGlite's transaction callback receives. */
export interface PgliteTransaction {
  query<T = Record<string, unknown>>(text: string, params?: unknown[], options?: PgliteQueryOptions): Promise<PgliteResults<T>>;
  exec(text: string): Promise<PgliteResults[]>;
}

/**
 * The PGlite calls this project makes (the ORM, the queue's adapter, the cluster engine's SQL and
 * its notifications), answered by a PGlite instance in a worker thread.
 */
export interface PgliteClient extends PgliteTransaction {
  transaction<T>(fn: (tx: PgliteTransaction) => Promise<T>): Promise<T>;
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>;
  readonly waitReady: Promise<void>;
  close(): Promise<void>;
}

const WORKER_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), "pglite-worker.mjs");

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: Record<string, unknown> & { message: string } };
type Notification = { notification: { listenerId: number; payload: string } };

/**
 * Starts PGlite in a worker thread. PGlite is PostgreSQL compiled to WebAssembly: every statement
 * runs on the thread that owns it. In a worker thread, the database's work runs beside the
 * application's instead of in its way — on a machine with two cores, the trace writes of a run no
 * longer hold up its model and tool calls. Calls are messages; results come back as PGlite
 * returns them (structured clones of its rows).
 */
export async function startPgliteThread(dataDir: string | undefined): Promise<PgliteClient> {
  // Constructed indirectly: a bundler that sees `new Worker(…)` rewrites it into a module lookup
  // of its own, and the worker script is a file on disk, not a module of the bundle.
  const worker: Worker = Reflect.construct(Worker, [WORKER_SCRIPT, { workerData: { dataDir } }]);
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  const listeners = new Map<number, (payload: string) => void>();
  let nextId = 1;
  let failure: Error | null = null;
  let closed = false;

  // The thread keeps the process alive only while a call waits for it.
  worker.unref();
  const settle = (id: number) => {
    pending.delete(id);
    if (pending.size === 0) worker.unref();
  };

  worker.on("message", (message: Reply | Notification) => {
    if ("notification" in message) {
      const callback = listeners.get(message.notification.listenerId);
      if (callback) queueMicrotask(() => callback(message.notification.payload));
      return;
    }
    const call = pending.get(message.id);
    if (!call) return;
    settle(message.id);
    if (message.ok) call.resolve(message.result);
    else call.reject(Object.assign(new Error(message.error.message), message.error));
  });
  const failAll = (error: Error) => {
    failure = error;
    for (const [id, call] of pending) {
      settle(id);
      call.reject(error);
    }
  };
  worker.on("error", (error) => {
    console.error("The PGlite database thread failed:", error);
    failAll(new Error(`The database thread failed: ${error.message}`, { cause: error }));
  });
  worker.on("exit", (code) => {
    if (!closed) console.error(`The PGlite database thread exited (code ${code}); database calls will fail until the process restarts.`);
    failAll(new Error(`The database thread exited (code ${code})`));
  });

  function call<T>(op: string, args?: Record<string, unknown>): Promise<T> {
    if (failure) return Promise.reject(failure);
    if (closed) return Promise.reject(new Error("The database is closed"));
    const id = nextId++;
    if (pending.size === 0) worker.ref();
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      try {
        worker.postMessage({ id, op, args });
      } catch (error) {
        // A value that cannot be copied to the thread (a function, say): this call fails alone.
        settle(id);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  function rawTypes(options: PgliteQueryOptions | undefined): { rowMode?: "array" | "object"; rawTypes?: number[] } | undefined {
    if (!options) return undefined;
    const { parsers, ...rest } = options;
    if (!parsers) return rest;
    const entries = Object.entries(parsers);
    if (!entries.every(([oid, parse]) => parse("raw", Number(oid)) === "raw")) {
      throw new Error("Only raw-text parsers can be sent to the database thread");
    }
    return { ...rest, rawTypes: entries.map(([oid]) => Number(oid)) };
  }

  const executor = (txId?: number): PgliteTransaction => ({
    query: async <T>(text: string, params?: unknown[], options?: PgliteQueryOptions) =>
      call<PgliteResults<T>>("query", { text, params: params ?? [], options: rawTypes(options), txId }),
    exec: (text: string) => call<PgliteResults[]>("exec", { text, txId }),
  });

  const ready = call<void>("ready");
  try {
    await ready;
  } catch (error) {
    // The caller releases the data directory's lock next: the thread must not hold it open.
    closed = true;
    await worker.terminate();
    throw error;
  }
  return {
    ...executor(),
    waitReady: ready,
    async transaction<T>(fn: (tx: PgliteTransaction) => Promise<T>): Promise<T> {
      const txId = await call<number>("begin");
      let result: T;
      try {
        result = await fn(executor(txId));
      } catch (error) {
        await call("end", { txId, commit: false }).catch(() => {});
        throw error;
      }
      await call("end", { txId, commit: true });
      return result;
    },
    async listen(channel, callback) {
      const listenerId = nextId++;
      listeners.set(listenerId, callback);
      try {
        await call("listen", { channel, listenerId });
      } catch (error) {
        listeners.delete(listenerId);
        throw error;
      }
      return async () => {
        listeners.delete(listenerId);
        await call("unlisten", { listenerId });
      };
    },
    async close() {
      if (closed) return;
      try {
        await call("close");
      } finally {
        closed = true;
        await worker.terminate();
      }
    },
  };
}
