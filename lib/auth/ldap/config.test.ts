import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { isAppError } from "../../errors";
import { AD_IN_CHAIN_RULE, fillFilter, loadLdapConfig } from "./config";

const base = {
  LOOPSTACKS_LDAP_URLS: "ldaps://ldap1.example.org, ldaps://ldap2.example.org:1636",
  LOOPSTACKS_LDAP_USER_BASE_DN: "ou=people,dc=example,dc=org",
  LOOPSTACKS_LDAP_BIND_DN: "cn=svc,dc=example,dc=org",
  LOOPSTACKS_LDAP_BIND_PASSWORD: "hunter2-service",
};

function issuesOf(env: Record<string, string>): Record<string, string> {
  try {
    loadLdapConfig(env);
  } catch (error) {
    if (isAppError(error, "invalid_request")) return Object.fromEntries(error.issues.map((i) => [i.path, i.message]));
    throw error;
  }
  throw new Error("expected the configuration to be refused");
}

describe("loadLdapConfig", () => {
  it("is null when no LDAP URL is configured", () => {
    expect(loadLdapConfig({})).toBeNull();
    expect(loadLdapConfig({ LOOPSTACKS_LDAP_URLS: "  " })).toBeNull();
  });

  it("reads servers in order with defaults for everything optional", () => {
    const config = loadLdapConfig(base)!;
    expect(config.servers).toEqual([
      { url: "ldaps://ldap1.example.org", host: "ldap1.example.org", security: "ldaps" },
      { url: "ldaps://ldap2.example.org:1636", host: "ldap2.example.org", security: "ldaps" },
    ]);
    expect(config.users).toEqual({ baseDn: "ou=people,dc=example,dc=org", filter: "(uid={username})", usernameAttribute: "uid", displayNameAttribute: "cn", emailAttribute: "mail" });
    expect(config.groups).toMatchObject({ membership: "memberof", memberOfAttribute: "memberOf", nested: "none", maxDepth: 5 });
    expect(config).toMatchObject({ connectTimeoutMs: 5_000, requestTimeoutMs: 10_000, pageSize: 500 });
    expect(config.bind?.password.reveal()).toBe("hunter2-service");
  });

  it("never prints the bind password", () => {
    const config = loadLdapConfig(base)!;
    expect(JSON.stringify(config)).not.toContain("hunter2-service");
    expect(inspect(config, { depth: 10 })).not.toContain("hunter2-service");
    expect(`${config.bind!.password}`).not.toContain("hunter2-service");
  });

  it("refuses plain ldap:// unless StartTLS or the insecure flag is set", () => {
    expect(issuesOf({ ...base, LOOPSTACKS_LDAP_URLS: "ldap://ldap.example.org" }).LOOPSTACKS_LDAP_URLS).toMatch(/unencrypted/);
    expect(loadLdapConfig({ ...base, LOOPSTACKS_LDAP_URLS: "ldap://ldap.example.org", LOOPSTACKS_LDAP_START_TLS: "true" })!.servers[0]!.security).toBe("starttls");
    expect(loadLdapConfig({ ...base, LOOPSTACKS_LDAP_URLS: "ldap://127.0.0.1:3389", LOOPSTACKS_LDAP_INSECURE: "true" })!.servers[0]).toEqual({
      url: "ldap://127.0.0.1:3389",
      host: "127.0.0.1",
      security: "plain",
    });
  });

  it("names every bad field at once", () => {
    const issues = issuesOf({
      LOOPSTACKS_LDAP_URLS: "http://ldap.example.org",
      LOOPSTACKS_LDAP_USER_BASE_DN: "people",
      LOOPSTACKS_LDAP_USER_FILTER: "(uid=alice)",
      LOOPSTACKS_LDAP_GROUP_MEMBERSHIP: "nested",
      LOOPSTACKS_LDAP_TIMEOUT_MS: "soon",
      LOOPSTACKS_LDAP_START_TLS: "yes",
    });
    expect(Object.keys(issues).sort()).toEqual(
      ["LOOPSTACKS_LDAP_GROUP_MEMBERSHIP", "LOOPSTACKS_LDAP_START_TLS", "LOOPSTACKS_LDAP_TIMEOUT_MS", "LOOPSTACKS_LDAP_USER_BASE_DN"].sort(),
    );
    const second = issuesOf({ ...base, LOOPSTACKS_LDAP_URLS: "http://ldap.example.org", LOOPSTACKS_LDAP_USER_FILTER: "(uid=alice)", LOOPSTACKS_LDAP_GROUP_FILTER: "(member={user})" });
    expect(second.LOOPSTACKS_LDAP_URLS).toMatch(/ldap:\/\/ or ldaps:\/\//);
    expect(second.LOOPSTACKS_LDAP_USER_FILTER).toMatch(/\{username\}/);
    expect(second.LOOPSTACKS_LDAP_GROUP_FILTER).toMatch(/must contain \{dn\}/);
    expect(issuesOf({ ...base, LOOPSTACKS_LDAP_GROUP_FILTER: "(&(member={dn})(cn={group}))" }).LOOPSTACKS_LDAP_GROUP_FILTER).toMatch(/unknown placeholder \{group\}/);
    expect(issuesOf({ ...base, LOOPSTACKS_LDAP_GROUP_FILTER: "(member={dn}" }).LOOPSTACKS_LDAP_GROUP_FILTER).toMatch(/not a valid LDAP filter/);
  });

  it("requires a group base DN when groups are searched, and a password with a bind DN", () => {
    expect(issuesOf({ ...base, LOOPSTACKS_LDAP_GROUP_MEMBERSHIP: "search" }).LOOPSTACKS_LDAP_GROUP_BASE_DN).toMatch(/required/);
    expect(issuesOf({ ...base, LOOPSTACKS_LDAP_NESTED_GROUPS: "in-chain" }).LOOPSTACKS_LDAP_GROUP_BASE_DN).toMatch(/in-chain/);
    expect(issuesOf({ ...base, LOOPSTACKS_LDAP_BIND_PASSWORD: "" }).LOOPSTACKS_LDAP_BIND_PASSWORD).toBeDefined();
    const { LOOPSTACKS_LDAP_BIND_PASSWORD: _, ...withoutPassword } = base;
    expect(issuesOf(withoutPassword).LOOPSTACKS_LDAP_BIND_PASSWORD).toMatch(/required/);
    const { LOOPSTACKS_LDAP_BIND_DN: __, ...withoutDn } = base;
    expect(issuesOf(withoutDn).LOOPSTACKS_LDAP_BIND_DN).toMatch(/required/);
  });

  it("reads the bind password and CA from files, without the trailing newline", () => {
    const dir = mkdtempSync(join(tmpdir(), "ldap-config-"));
    writeFileSync(join(dir, "password"), "from-a-file\n");
    writeFileSync(join(dir, "ca.pem"), "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    writeFileSync(join(dir, "not-a-cert"), "hello");
    const { LOOPSTACKS_LDAP_BIND_PASSWORD: _, ...rest } = base;
    const config = loadLdapConfig({ ...rest, LOOPSTACKS_LDAP_BIND_PASSWORD_FILE: join(dir, "password"), LOOPSTACKS_LDAP_CA_FILE: join(dir, "ca.pem") })!;
    expect(config.bind!.password.reveal()).toBe("from-a-file");
    expect(config.ca).toContain("BEGIN CERTIFICATE");
    const issues = issuesOf({ ...rest, LOOPSTACKS_LDAP_BIND_PASSWORD_FILE: join(dir, "missing"), LOOPSTACKS_LDAP_CA_FILE: join(dir, "not-a-cert") });
    expect(issues.LOOPSTACKS_LDAP_BIND_PASSWORD_FILE).toMatch(/ENOENT/);
    expect(issues.LOOPSTACKS_LDAP_CA_FILE).toMatch(/no PEM certificate/);
    expect(issuesOf({ ...base, LOOPSTACKS_LDAP_BIND_PASSWORD_FILE: join(dir, "password") }).LOOPSTACKS_LDAP_BIND_PASSWORD_FILE).toMatch(/not both/);
  });

  it("uses Active Directory's in-chain rule for nested groups when asked", () => {
    const config = loadLdapConfig({ ...base, LOOPSTACKS_LDAP_NESTED_GROUPS: "in-chain", LOOPSTACKS_LDAP_GROUP_BASE_DN: "ou=groups,dc=example,dc=org" })!;
    expect(config.groups.filter).toBe(`(member:${AD_IN_CHAIN_RULE}:={dn})`);
  });
});

describe("fillFilter", () => {
  it("escapes every filter metacharacter in substituted values", () => {
    expect(fillFilter("(uid={username})", { username: "*)(uid=*" })).toBe("(uid=\\2a\\29\\28uid=\\2a)");
    expect(fillFilter("(uid={username})", { username: "a\\b\u0000" })).toBe("(uid=a\\5cb\\00)");
    expect(fillFilter("(member={dn})", { dn: "cn=Smith\\2C John,ou=people" })).toBe("(member=cn=Smith\\5c2C John,ou=people)");
  });

  it("leaves unknown placeholders alone and ignores inherited names", () => {
    expect(fillFilter("(uid={constructor})", { username: "x" })).toBe("(uid={constructor})");
  });
});
