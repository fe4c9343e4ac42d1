import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { AppError, formatIssues, isAppError } from "../lib/errors";
import { loadConfig } from "../lib/config";
import { createInstance, type CreateInstanceOptions, type Instance } from "../lib/instance";
import type { Identity } from "../lib/runtime/types";

/** Exit codes: 0 ok, 1 the operation failed, 2 bad usage or input, 3 not found, 4 not allowed. */
export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3, denied: 4 } as const;

export function exitCodeFor(error: unknown): number {
  if (!isAppError(error)) return EXIT.failed;
  switch (error.code) {
    case "invalid_definition":
    case "invalid_input":
    case "invalid_request":
    case "payload_too_large":
      return EXIT.usage;
    case "not_found":
      return EXIT.notFound;
    case "forbidden":
    case "unauthenticated":
      return EXIT.denied;
    default:
      return EXIT.failed;
  }
}

/**
 * Prints an error for a person: the message, and each problem with its path. A message that lists
 * its problems itself is cut to its first line when they are printed below it; one with no
 * separate problems (a YAML error and the snippet that shows where) is printed whole.
 */
export function reportError(error: unknown): void {
  if (isAppError(error)) {
    console.error(`error: ${error.issues.length > 0 ? error.message.split("\n")[0] : error.message}`);
    if (error.issues.length > 0) console.error(formatIssues(error.issues).replace(/^/gm, "  "));
  } else {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Builds the process's one instance, runs `fn`, and always closes it. Unless asked
 * (`executesRuns: true`, for `run`), it starts no worker: a command that only reads or writes
 * must never take up steps of runs.
 */
export async function withInstance<T>(fn: (instance: Instance) => Promise<T>, options: CreateInstanceOptions = {}): Promise<T> {
  const instance = await createInstance(loadConfig(), { executesRuns: false, ...options });
  try {
    return await fn(instance);
  } finally {
    await instance.close();
  }
}

/**
 * `bytes` as UTF-8 text, or an `invalid_input` error naming `name` and the offset of the first
 * byte that is not UTF-8. A byte order mark is dropped.
 */
export function decodeUtf8(bytes: Uint8Array, name: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const offset = firstInvalidUtf8Byte(bytes);
    const byte = bytes[offset];
    const found = byte === undefined ? "malformed text" : `byte 0x${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    throw new AppError("invalid_input", `${name} is not valid UTF-8: ${found} at byte offset ${offset}; save it as UTF-8`);
  }
}

/** The offset where the first malformed UTF-8 sequence starts (the length when there is none), as the WHATWG decoder reads it. */
function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead < 0x80) length = 1;
    else if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead === 0xe0) low = 0xa0; // overlong
      if (lead === 0xed) high = 0x9f; // surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead === 0xf0) low = 0x90; // overlong
      if (lead === 0xf4) high = 0x8f; // beyond U+10FFFF
    } else return i;
    for (let k = 1; k < length; k++) {
      const next = bytes[i + k];
      if (next === undefined || next < (k === 1 ? low : 0x80) || next > (k === 1 ? high : 0xbf)) return i;
    }
    i += length;
  }
  return i;
}

/** The operator at the terminal, for records of what the CLI changed. */
export function cliActor(): { subject: string; kind: "user"; source: "cli" } {
  let name = "unknown";
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry (some containers): keep "unknown".
  }
  return { subject: `cli:${name}`, kind: "user", source: "cli" };
}

/** Resolves `--as <username>` through the configured directory, so the CLI gets no extra privilege. */
export async function identityFor(instance: Instance, username: string): Promise<Identity> {
  const user = await instance.directory.lookup(username);
  if (!user) throw new AppError("not_found", `No user "${username}" in the ${instance.directory.kind}`);
  return { subject: user.username, displayName: user.displayName, groups: user.groups, kind: "user", source: `${instance.directory.kind}+cli` };
}

/** `--input '{"a":1}'`, `--input @file.json`, or `--input -` for standard input. */
export function readJsonArgument(value: string | undefined, name = "--input"): unknown {
  if (value === undefined) return {};
  let text = value;
  if (value === "-") text = readFileSync(0, "utf8");
  else if (value.startsWith("@")) {
    try {
      text = readFileSync(value.slice(1), "utf8");
    } catch (error) {
      throw new AppError("invalid_input", `${name}: cannot read ${value.slice(1)} (${(error as Error).message})`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AppError("invalid_input", `${name} is not valid JSON: ${(error as Error).message}`);
  }
}
