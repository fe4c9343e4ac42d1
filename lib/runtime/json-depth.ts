import { AppError } from "../errors";

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

/** Refuses run input nested deeper than `MAX_INPUT_DEPTH`, before anything else looks at it. */
export function refuseDeepInput(input: unknown): void {
  if (nestsDeeperThan(input, MAX_INPUT_DEPTH)) {
    throw new AppError("invalid_input", `Run input nests objects and arrays more than ${MAX_INPUT_DEPTH} levels deep`);
  }
}
