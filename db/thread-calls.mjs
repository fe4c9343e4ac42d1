// The thread side of db/worker-calls.ts, for db/pglite-worker.mjs. Plain JavaScript, so that the
// thread runs it as it is.
import { deserialize, serialize } from "node:v8";

/** An error as plain data for a reply: its message and its own fields (a database error's code, detail, …). */
export function serializeError(error) {
  if (!(error instanceof Error)) return { message: String(error) };
  const fields = {};
  for (const [key, value] of Object.entries(error)) {
    if (value === null || ["string", "number", "boolean"].includes(typeof value)) fields[key] = value;
  }
  return { ...fields, name: error.name, message: error.message };
}

/**
 * Answers each `{ id, op, data }` message with `{ id, ok, data | error }`, running
 * `operations[op](args)`: arguments and results cross as the bytes of their structured clones,
 * so a value this side cannot read, or cannot copy back, fails its own call with its id.
 */
export function answerCalls(port, operations) {
  port.on("message", async ({ id, op, data }) => {
    try {
      const args = data === undefined ? {} : deserialize(data);
      const result = await operations[op](args ?? {});
      if (result === undefined) port.postMessage({ id, ok: true });
      else {
        const data = serialize(result);
        port.postMessage({ id, ok: true, data }, transferList(data));
      }
    } catch (error) {
      port.postMessage({ id, ok: false, error: serializeError(error) });
    }
  });
}

/** The bytes' own memory, for a message's transfer list: handed over instead of copied when nothing else shares it. */
export function transferList(bytes) {
  const { buffer } = bytes;
  return buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength ? [buffer] : [];
}
