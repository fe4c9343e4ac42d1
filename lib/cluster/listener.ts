import type { DatabaseHandle } from "../../db/client";
import type pg from "pg";

export interface Listener {
  close(): Promise<void>;
}

export interface ListenOptions {
  handlers: Record<string, (payload: string) => void>;
  /** After every (re)connection: notifications sent while disconnected are lost, so look again. */
  onConnect?: () => void;
  log?: (message: string) => void;
}

const RECONNECT_MS = [250, 1_000, 2_000, 5_000];

/**
 * LISTEN on a connection of its own. Notifications only make the cluster faster (a worker
 * wakes at once, a caller learns its run ended): everything they carry is also polled, so a
 * dropped connection costs latency until it is back, never correctness.
 */
export function listen(handle: DatabaseHandle, options: ListenOptions): Listener {
  if (handle.pglite) {
    const pglite = handle.pglite;
    const unsubscribers = Promise.all(Object.entries(options.handlers).map(([channel, handler]) => pglite.listen(channel, handler)));
    void unsubscribers.then(() => options.onConnect?.());
    return {
      async close() {
        for (const unsubscribe of await unsubscribers) await unsubscribe();
      },
    };
  }
  const pool = handle.pool;
  if (!pool) throw new Error(`Cannot listen on this ${handle.kind} database handle`);
  return listenOnPool(pool, options);
}

function listenOnPool(pool: pg.Pool, options: ListenOptions): Listener {
  let closed = false;
  let client: pg.PoolClient | null = null;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;

  const schedule = () => {
    if (closed || timer) return;
    const delay = RECONNECT_MS[Math.min(failures, RECONNECT_MS.length - 1)]!;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, delay);
  };

  const drop = (error?: Error) => {
    const current = client;
    client = null;
    if (current) {
      current.removeAllListeners("notification");
      current.release(error ?? true);
    }
  };

  async function connect(): Promise<void> {
    if (closed) return;
    let next: pg.PoolClient;
    try {
      next = await pool.connect();
    } catch (error) {
      failures++;
      options.log?.(`listener: cannot connect (${(error as Error).message}); retrying`);
      return schedule();
    }
    const onError = (error: Error) => {
      options.log?.(`listener: connection lost (${error.message}); reconnecting`);
      next.off("error", onError);
      if (client === next) drop(error);
      failures++;
      schedule();
    };
    next.on("error", onError);
    next.on("notification", (message) => options.handlers[message.channel]?.(message.payload ?? ""));
    try {
      for (const channel of Object.keys(options.handlers)) await next.query(`listen "${channel.replaceAll('"', '""')}"`);
    } catch (error) {
      next.off("error", onError);
      next.release(error as Error);
      failures++;
      return schedule();
    }
    if (closed) {
      next.release(true);
      return;
    }
    client = next;
    failures = 0;
    options.onConnect?.();
  }

  void connect();
  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      drop();
    },
  };
}
