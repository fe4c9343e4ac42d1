import { describe, expect, it } from "vitest";
import { normalizeDn } from "./realms";

describe("normalizeDn", () => {
  it("ignores case and spaces around separators", () => {
    expect(normalizeDn("CN=Cardiology Operators, OU=Groups ,DC=Example,DC=org")).toBe("cn=cardiology operators,ou=groups,dc=example,dc=org");
  });

  it("treats an escaped comma as part of the value, written either way", () => {
    const a = normalizeDn("cn=Smith\\, John,ou=people,dc=example,dc=org");
    const b = normalizeDn("CN=Smith\\2C John, OU=people,DC=example,DC=org");
    expect(a).toBe("cn=smith\\, john,ou=people,dc=example,dc=org");
    expect(b).toBe(a);
    expect(a.split(/(?<!\\),/)).toHaveLength(4);
  });

  it("decodes hex-escaped UTF-8 and unescapes characters that need no escape", () => {
    expect(normalizeDn("cn=Ren\\C3\\A9e,dc=x")).toBe("cn=renée,dc=x");
    expect(normalizeDn("cn=a\\62c,dc=x")).toBe("cn=abc,dc=x");
    expect(normalizeDn("cn=a\\2Bb,dc=x")).toBe(normalizeDn("cn=a\\+b,dc=x"));
  });
});
