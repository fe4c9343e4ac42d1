import { describe, expect, it } from "vitest";
import { parseAddressList } from "./address-list.mjs";

describe("parseAddressList", () => {
  it("matches addresses and ranges, written as IPv4, IPv6, IPv4-mapped IPv6 or in brackets, the same on every call", () => {
    const list = parseAddressList("169.254.0.0/16, 10.1.2.3, fd00::/8");
    expect(list.size).toBe(3);
    for (let round = 0; round < 2; round++) {
      expect(list.has("169.254.169.254")).toBe(true);
      expect(list.has("::ffff:169.254.1.1")).toBe(true);
      expect(list.has("10.1.2.3")).toBe(true);
      expect(list.has("10.1.2.4")).toBe(false);
      expect(list.has("[fd12::1]")).toBe(true);
      expect(list.has("fe80::1")).toBe(false);
      expect(list.has("example.org")).toBe(false);
    }
  });

  it("still answers correctly once it has seen more addresses than it keeps answers for", () => {
    const list = parseAddressList("10.0.0.0/8");
    for (let i = 0; i < 3000; i++) expect(list.has(`10.0.${i >> 8}.${i & 255}`)).toBe(true);
    for (let i = 0; i < 3000; i++) expect(list.has(`11.0.${i >> 8}.${i & 255}`)).toBe(false);
  });

  it("names the entry that is neither an address nor a range", () => {
    expect(() => parseAddressList("10.0.0.0/8, 10.0.0.0/33")).toThrow('"10.0.0.0/33" is not an IP address or a CIDR range');
    expect(parseAddressList("").has("10.0.0.1")).toBe(false);
  });
});
