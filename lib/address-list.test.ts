import { describe, expect, it } from "vitest";
import { parseAddressList } from "./address-list.mjs";

// Parsing and matching are covered through parseTrustedProxies (lib/server/forwarded.test.ts);
// these cover the answers a list keeps.
describe("parseAddressList's kept answers", () => {
  it("are the same when an address is asked about again, in any form it is written", () => {
    const list = parseAddressList("169.254.0.0/16, fd00::/8");
    const asked = ["169.254.169.254", "::ffff:169.254.169.254", "[fd12::1]", "fd12::1", "10.1.2.3", "fe80::1", "example.org"];
    const first = asked.map((address) => list.has(address));
    expect(first).toEqual([true, true, true, true, false, false, false]);
    expect(asked.map((address) => list.has(address))).toEqual(first);
  });

  it("stay right once more addresses were asked about than it keeps", () => {
    const list = parseAddressList("10.0.0.0/8");
    for (let i = 0; i < 3000; i++) expect(list.has(`10.0.${i >> 8}.${i & 255}`)).toBe(true);
    for (let i = 0; i < 3000; i++) expect(list.has(`11.0.${i >> 8}.${i & 255}`)).toBe(false);
  });
});
