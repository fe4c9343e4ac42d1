import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "./config";
import { createInstance, selectDirectory } from "./instance";

const scratch = mkdtempSync(join(tmpdir(), "instance-directory-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let counter = 0;
function configFor(nodeEnv: "development" | "production") {
  return loadConfig({ NODE_ENV: nodeEnv, LOOPSTACKS_DATA_DIR: join(scratch, `data-${++counter}`) });
}

const ldapEnv = {
  LOOPSTACKS_LDAP_URLS: "ldaps://ldap.example.org",
  LOOPSTACKS_LDAP_USER_BASE_DN: "ou=people,dc=example,dc=org",
};

describe("selectDirectory", () => {
  it("uses the development directory when no LDAP URL is set, writing the demo file", () => {
    const config = configFor("development");
    const { directory, groupRecheckSeconds } = selectDirectory(config, {});
    expect(directory.kind).toBe("dev-directory");
    expect(groupRecheckSeconds).toBe(300);
    expect(existsSync(join(config.dataDir, "dev-directory.json"))).toBe(true);
  });

  it("uses LDAP when LOOPSTACKS_LDAP_URLS is set, in production too", () => {
    expect(selectDirectory(configFor("production"), ldapEnv).directory.kind).toBe("ldap");
  });

  it("refuses the development directory in production unless explicitly allowed", () => {
    const config = configFor("production");
    expect(() => selectDirectory(config, {})).toThrow(/refused in production[\s\S]*LOOPSTACKS_ALLOW_DEV_DIRECTORY=true/);
    expect(existsSync(join(config.dataDir, "dev-directory.json"))).toBe(false);
    expect(selectDirectory(config, { LOOPSTACKS_ALLOW_DEV_DIRECTORY: "true" }).directory.kind).toBe("dev-directory");
  });

  it("names bad settings", () => {
    const config = configFor("development");
    expect(() => selectDirectory(config, { LOOPSTACKS_GROUP_RECHECK_SECONDS: "5m", LOOPSTACKS_ALLOW_DEV_DIRECTORY: "yes" })).toThrow(
      /LOOPSTACKS_ALLOW_DEV_DIRECTORY: must be true or false[\s\S]*LOOPSTACKS_GROUP_RECHECK_SECONDS/,
    );
    expect(() => selectDirectory(config, { ...ldapEnv, LOOPSTACKS_LDAP_URLS: "ldap://ldap.example.org" })).toThrow(/LOOPSTACKS_LDAP_URLS: .*unencrypted/);
    expect(selectDirectory(config, { LOOPSTACKS_GROUP_RECHECK_SECONDS: "0" }).groupRecheckSeconds).toBe(0);
  });
});

describe("createInstance", () => {
  it("fails on a bad directory setting before it opens the database", async () => {
    const config = configFor("production");
    await expect(createInstance(config, { env: {} })).rejects.toThrow(/refused in production/);
    expect(existsSync(join(config.dataDir, "pglite"))).toBe(false);
  });
});
