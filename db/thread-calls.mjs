// The thread side of db/worker-calls.ts, for db/pglite-worker.mjs. Plain JavaScript, so that the
// thread runs it as it is.

/** An error as plain data for a reply: its message and its own fields (a database error's code, detail, …). */
export function serializeError(error) {
  if (!(error instanceof Error)) return { message: String(error) };
  const fields = {};
  for (const [key, value] of Object.entries(error)) {
    if (value === null || ["string", "number", "boolean"].includes(typeof value)) fields[key] = value;
  }
  return { ...fields, name: error.name, message: error.message };
}

/** Answers each `{ id, op, args }` message with `{ id, ok, result | error }`, running `operations[op](args)`. */
export function answerCalls(port, operations) {
  port.on("message", async ({ id, op, args }) => {
    try {
      const result = await operations[op](args ?? {});
      port.postMessage({ id, ok: true, result });
    } catch (error) {
      port.postMessage({ id, ok: false, error: serializeError(error) });
    }
  });
}
