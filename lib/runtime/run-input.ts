import { AppError } from "../errors";
import type { SchemaValidator } from "./json-schema";
import type { RegisteredLoop } from "./types";

/** The largest run input, in bytes of JSON, unless an executor is given another limit. */
export const DEFAULT_MAX_INPUT_BYTES = 1024 * 1024;

/**
 * The longest deadline a run may be given, in milliseconds: the longest a Node timer can wait
 * (2^31 − 1 ms, about 24.8 days). A longer one would overflow the timer, which then fires at once.
 */
export const MAX_RUN_TIMEOUT_MS = 2_147_483_647;

/**
 * Refuses a run deadline that is not a whole number of milliseconds from 1 to
 * `MAX_RUN_TIMEOUT_MS`, in the in-process and the cluster executor alike, before anything is
 * recorded. No deadline at all (`undefined`) is fine.
 */
export function checkRunTimeout(timeoutMs: number | undefined): void {
  if (timeoutMs === undefined) return;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_RUN_TIMEOUT_MS) {
    const message = `must be a whole number of milliseconds from 1 to ${MAX_RUN_TIMEOUT_MS}`;
    throw new AppError("invalid_input", `A run's timeout ${message} (got ${String(timeoutMs)})`, { issues: [{ path: "timeoutMs", message }] });
  }
}

/**
 * Run input may nest objects and arrays this many levels deep. Far more than any real input
 * needs, and far less than what makes a value impossible to copy between threads or to write
 * as JSON without running out of stack.
 */
export const MAX_INPUT_DEPTH = 100;

/**
 * Whether a value nests objects and arrays more than `limit` levels deep. It walks without
 * recursion and stops at the limit, so a value too deep for a recursive walk, or one that
 * refers to itself, is answered too; an object reached again is walked again only when reached
 * deeper than before, so one shared by many parents costs at most `limit` walks.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const deepestSeen = new Map<object, number>();
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== "object") continue;
    if (depth > limit) return true;
    if ((deepestSeen.get(current) ?? 0) >= depth) continue;
    deepestSeen.set(current, depth);
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** Refuses run input nested deeper than `MAX_INPUT_DEPTH` (or `limit`), before anything else looks at it. */
export function refuseDeepInput(input: unknown, limit = MAX_INPUT_DEPTH): void {
  if (nestsDeeperThan(input, limit)) {
    throw new AppError("invalid_input", `Run input nests objects and arrays more than ${limit} levels deep`);
  }
}

/** Room for an evaluator run's envelope around the frame it scores (`EvaluatorInput`: ids, loop, version). */
const EVALUATION_ENVELOPE_BYTES = 4096;

/**
 * The checks every run's input passes before anything is recorded, in the in-process and the
 * cluster executor alike: not nested too deep, JSON-serialisable, within `maxInputBytes`, and
 * valid against the loop's input schema. Returns the input as JSON holds it (what every frame
 * and the trace see, whichever database stores it).
 */
export function checkRunInput(
  loop: RegisteredLoop,
  given: unknown,
  options: { maxInputBytes: number; validator: SchemaValidator; evaluation?: boolean },
): unknown {
  // An evaluator's input wraps a frame's input and output one level down, each within the limits
  // a run's input has: the limits make room for the wrapping.
  const maxInputBytes = options.evaluation ? 2 * options.maxInputBytes + EVALUATION_ENVELOPE_BYTES : options.maxInputBytes;
  refuseDeepInput(given, options.evaluation ? MAX_INPUT_DEPTH + 1 : MAX_INPUT_DEPTH);
  let json: string | undefined;
  try {
    json = JSON.stringify(given ?? null);
  } catch {
    json = undefined;
  }
  // A function or a symbol serialises to nothing at all.
  if (json === undefined) throw new AppError("invalid_input", "Run input must be JSON-serialisable");
  const size = Buffer.byteLength(json);
  if (size > maxInputBytes) {
    throw new AppError("payload_too_large", `Run input is ${size} bytes; the limit is ${maxInputBytes} bytes`);
  }
  const input: unknown = JSON.parse(json);
  if (loop.definition.inputSchema) {
    const issues = options.validator.validate(loop.definition.inputSchema, input);
    if (issues.length > 0) {
      throw new AppError("invalid_input", `Input does not match ${loop.id}'s input schema:\n${issues.map((i) => `  ${i.path || "(root)"}: ${i.message}`).join("\n")}`, { issues });
    }
  }
  return input;
}
