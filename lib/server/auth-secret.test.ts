import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { resolveAuthSecret } from "./auth-secret";

const dirs: string[] = [];
const dataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "loopstacks-auth-secret-"));
  dirs.push(dir);
  return dir;
};

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("resolveAuthSecret", () => {
  it("uses AUTH_SECRET when it is long enough, and refuses a short one", () => {
    const strong = "k".repeat(32);
    expect(resolveAuthSecret({ NODE_ENV: "test", AUTH_SECRET: strong })).toBe(strong);
    expect(() => resolveAuthSecret({ NODE_ENV: "test", AUTH_SECRET: "changeme" })).toThrow("AUTH_SECRET must be at least 32 characters");
  });

  it("refuses a data directory's secret file that is too short", () => {
    const dir = dataDir();
    writeFileSync(join(dir, "auth-secret"), "short\n");
    expect(() => resolveAuthSecret({ NODE_ENV: "test", LOOPSTACKS_DATA_DIR: dir })).toThrow("shorter than 32 characters");
    expect(readFileSync(join(dir, "auth-secret"), "utf8")).toBe("short\n");
  });
});
