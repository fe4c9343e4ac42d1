import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { TraceBatch, TraceBatchWritten } from "../lib/runtime/store";
import { workerCalls } from "./worker-calls";

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
  /** Writes a batch of trace rows, the statement built and its JSON made on the database's thread. */
  writeTraceBatch(batch: TraceBatch): Promise<TraceBatchWritten>;
  readonly waitReady: Promise<void>;
  close(): Promise<void>;
}

const WORKER_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), "pglite-worker.mjs");

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
  const listeners = new Map<number, (payload: string) => void>();
  let nextListenerId = 1;
  const { call, close, terminate } = workerCalls(worker, {
    name: "The PGlite database thread",
    onMessage: (message) => {
      const { notification } = message as Notification;
      const callback = listeners.get(notification.listenerId);
      if (callback) queueMicrotask(() => callback(notification.payload));
    },
    onFailure: () => console.error("Database calls will fail until the process restarts."),
  });

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
    await terminate();
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
    writeTraceBatch: (batch) => call<TraceBatchWritten>("traceBatch", { batch }),
    async listen(channel, callback) {
      const listenerId = nextListenerId++;
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
    close,
  };
}
