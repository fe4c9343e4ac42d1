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

/** Prints an error for a person: the message, and each problem with its path. */
export function reportError(error: unknown): void {
  if (isAppError(error)) {
    console.error(`error: ${error.message.split("\n")[0]}`);
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
