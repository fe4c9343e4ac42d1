import { describe, expect, it } from "vitest";
import { envSecretResolver, loadConfig } from "./config";

describe("loadConfig", () => {
  it("defaults to PGlite in a data directory and the scripted model", () => {
    const config = loadConfig({ LOOPSTACKS_DATA_DIR: "/tmp/ls-config-test" });
    expect(config.database).toEqual({ kind: "pglite", dataDir: "/tmp/ls-config-test/pglite" });
    expect(config.model.mode).toBe("scripted");
  });

  it("uses PostgreSQL and the real API when configured", () => {
    const config = loadConfig({ DATABASE_URL: "postgres://u@h/db", ANTHROPIC_API_KEY: "k" });
    expect(config.database.kind).toBe("postgres");
    expect(config.model.mode).toBe("anthropic");
    expect(loadConfig({ ANTHROPIC_BASE_URL: "http://127.0.0.1:9/" }).model.mode).toBe("custom-endpoint");
  });

  it("reads the proxy HTTP loops go through, and refuses one that is not an HTTP URL", () => {
    expect(loadConfig({}).httpProxy).toBeNull();
    expect(loadConfig({ https_proxy: "http://proxy.internal:3128", NO_PROXY: "localhost,.internal" }).httpProxy).toEqual({
      httpProxy: undefined,
      httpsProxy: "http://proxy.internal:3128",
      noProxy: "localhost,.internal",
    });
    expect(() => loadConfig({ HTTP_PROXY: "proxy.internal:3128" })).toThrow("HTTP_PROXY: must be an http:// or https:// URL of the proxy");
  });

  it("blocks link-local and cloud metadata addresses for HTTP loops unless told otherwise, and refuses a bad entry", () => {
    const blocked = loadConfig({}).httpBlockedAddresses;
    expect(["169.254.169.254", "fe80::1", "fd00:ec2::254", "100.100.100.200"].every((a) => blocked.has(a))).toBe(true);
    expect(blocked.has("10.0.0.1")).toBe(false);
    const custom = loadConfig({ LOOPSTACKS_HTTP_BLOCKED_ADDRESSES: "10.0.0.0/8" }).httpBlockedAddresses;
    expect([custom.has("10.1.2.3"), custom.has("169.254.169.254")]).toEqual([true, false]);
    expect(loadConfig({ LOOPSTACKS_HTTP_BLOCKED_ADDRESSES: "" }).httpBlockedAddresses.size).toBe(0);
    expect(() => loadConfig({ LOOPSTACKS_HTTP_BLOCKED_ADDRESSES: "10.0.0.0/8, metadata" })).toThrow(
      'LOOPSTACKS_HTTP_BLOCKED_ADDRESSES: "metadata" is not an IP address or a CIDR range',
    );
  });

  it("names each bad variable", () => {
    expect(() => loadConfig({ DATABASE_URL: "mysql://x", PORT: "99999" })).toThrow(/DATABASE_URL[\s\S]*PORT|PORT[\s\S]*DATABASE_URL/);
  });
});

describe("envSecretResolver", () => {
  it("only reads LOOPSTACKS_SECRET_ variables", () => {
    const secrets = envSecretResolver({ LOOPSTACKS_SECRET_API: "s3cret", LOOPSTACKS_SECRET_API_REALMS: "*", DATABASE_URL: "postgres://x" });
    expect(secrets.resolve("API", "cardiology")).toBe("s3cret");
    expect(secrets.resolve("DATABASE_URL", "cardiology")).toBeUndefined();
  });

  it("gives a secret only to the realms its _REALMS list names, and to none without a list", () => {
    const secrets = envSecretResolver({
      LOOPSTACKS_SECRET_PARTNER: "p4rtner",
      LOOPSTACKS_SECRET_PARTNER_REALMS: "cardiology, oncology",
      LOOPSTACKS_SECRET_UNLISTED: "u",
    });
    expect(secrets.resolve("PARTNER", "cardiology")).toBe("p4rtner");
    expect(secrets.resolve("PARTNER", "oncology")).toBe("p4rtner");
    expect(secrets.resolve("PARTNER", "billing")).toBeUndefined();
    expect(secrets.resolve("UNLISTED", "cardiology")).toBeUndefined();
    // The list is configuration, not a secret a loop can read.
    expect(secrets.resolve("PARTNER_REALMS", "cardiology")).toBeUndefined();
  });
});

describe("production mode", () => {
  it("is the operator's LOOPSTACKS_MODE, else NODE_ENV", () => {
    expect(loadConfig({ NODE_ENV: "production" }).env).toBe("production");
    expect(loadConfig({ NODE_ENV: "production", LOOPSTACKS_MODE: "development" }).env).toBe("development");
    expect(loadConfig({ LOOPSTACKS_MODE: "production" }).env).toBe("production");
    expect(() => loadConfig({ LOOPSTACKS_MODE: "staging" })).toThrow(/LOOPSTACKS_MODE/);
  });
});
