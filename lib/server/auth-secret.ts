import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../config";

let cached: string | undefined;

const MIN_SECRET_LENGTH = 32;

/**
 * The key that signs and encrypts session cookies. `AUTH_SECRET` wins; otherwise an embedded
 * install generates one on first start and keeps it in `<dataDir>/auth-secret` (mode 0600),
 * so sessions survive restarts without any setup. Several console processes (cluster mode)
 * must share one `AUTH_SECRET`.
 */
export function resolveAuthSecret(env: NodeJS.ProcessEnv = process.env): string {
  // Whoever guesses it can forge a session with any groups: a short one is refused, as a generated file's is.
  if (env.AUTH_SECRET) {
    if (env.AUTH_SECRET.trim().length < MIN_SECRET_LENGTH) throw new Error(`AUTH_SECRET must be at least ${MIN_SECRET_LENGTH} characters (for example: openssl rand -base64 32)`);
    return env.AUTH_SECRET;
  }
  if (cached) return cached;
  const path = join(loadConfig(env).dataDir, "auth-secret");
  cached = readOrCreate(path);
  return cached;
}

function readOrCreate(path: string): string {
  try {
    return checked(path, readFileSync(path, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(join(path, ".."), { recursive: true });
  const secret = randomBytes(32).toString("base64url");
  try {
    // `wx`: when two starts race, the first file wins and the other process reads it.
    writeFileSync(path, secret + "\n", { mode: 0o600, flag: "wx" });
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return checked(path, readFileSync(path, "utf8"));
  }
}

function checked(path: string, content: string): string {
  const secret = content.trim();
  if (secret.length < MIN_SECRET_LENGTH) throw new Error(`${path} holds a secret shorter than ${MIN_SECRET_LENGTH} characters; delete the file to generate a new one, or set AUTH_SECRET`);
  return secret;
}
