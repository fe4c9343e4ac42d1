// The PGlite side of `db/pglite-thread.ts`: runs in a worker thread, owns the database, and
// answers the calls the main thread sends. Plain JavaScript, so that it runs as it is, with no
// build step, wherever the application does.
import { parentPort, workerData } from "node:worker_threads";
import { PGlite } from "@electric-sql/pglite";
import { answerCalls } from "./thread-calls.mjs";
import { statementText, traceBatchStatement } from "./trace-batch.mjs";

const db = workerData.dataDir ? new PGlite(workerData.dataDir) : new PGlite();
/** Open transactions by id: each holds PGlite's transaction until the main thread ends it. */
const transactions = new Map();
const listeners = new Map();
let nextId = 1;

/** Ends a transaction's callback without committing it. */
class RollBack extends Error {}

/** Only raw-text parsers cross the thread boundary: a list of the type ids to leave as text. */
function queryOptions(options) {
  if (!options) return undefined;
  const { rawTypes, ...rest } = options;
  return rawTypes ? { ...rest, parsers: Object.fromEntries(rawTypes.map((oid) => [oid, (value) => value])) } : rest;
}

function target(txId) {
  if (txId === undefined) return db;
  const entry = transactions.get(txId);
  if (!entry) throw new Error(`Transaction ${txId} is not open`);
  return entry.tx;
}

async function begin() {
  const id = nextId++;
  let opened;
  const isOpen = new Promise((resolve) => (opened = resolve));
  let finish;
  const decided = new Promise((resolve) => (finish = resolve));
  const settled = db
    .transaction(async (tx) => {
      transactions.set(id, { tx, finish, settled: null });
      opened();
      if (!(await decided)) throw new RollBack();
    })
    .catch((error) => {
      if (!(error instanceof RollBack)) throw error;
    })
    .finally(() => transactions.delete(id));
  // A BEGIN that fails rejects before the transaction opens.
  await Promise.race([isOpen, settled]);
  transactions.get(id).settled = settled;
  return id;
}

async function end(id, commit) {
  const entry = transactions.get(id);
  if (!entry) throw new Error(`Transaction ${id} is not open`);
  entry.finish(commit);
  await entry.settled;
}

const operations = {
  ready: async () => {
    await db.waitReady;
  },
  query: async ({ text, params, options, txId }) => {
    const { rows, fields, affectedRows } = await target(txId).query(text, params, queryOptions(options));
    return { rows, fields, affectedRows };
  },
  exec: async ({ text, txId }) => (await target(txId).exec(text)).map(({ rows, fields, affectedRows }) => ({ rows, fields, affectedRows })),
  begin,
  end: ({ txId, commit }) => end(txId, commit),
  listen: async ({ channel, listenerId }) => {
    listeners.set(listenerId, await db.listen(channel, (payload) => parentPort.postMessage({ notification: { listenerId, payload } })));
  },
  unlisten: async ({ listenerId }) => {
    const unlisten = listeners.get(listenerId);
    listeners.delete(listenerId);
    await unlisten?.();
  },
  traceBatch: async ({ batch }) => {
    const statement = traceBatchStatement(batch);
    if (statement) await db.query(statementText(statement.pieces), statement.params);
    return { replacedValues: statement?.replacedValues ?? false };
  },
  close: async () => {
    await db.close();
  },
};

answerCalls(parentPort, operations);
