import type { IncomingHttpHeaders } from "node:http";
import { describe, expect, it } from "vitest";
import { applyForwarding, CLIENT_ADDRESS_HEADER, parseTrustedProxies, resolveClientAddress } from "./forwarded.mjs";

const none = parseTrustedProxies(undefined);
const proxies = parseTrustedProxies("127.0.0.1, 10.0.0.0/8, fd00::/8");

describe("parseTrustedProxies", () => {
  it("accepts addresses and CIDR ranges of both families, and IPv4 peers written as IPv6", () => {
    expect(proxies.size).toBe(3);
    expect(proxies.has("127.0.0.1")).toBe(true);
    expect(proxies.has("::ffff:127.0.0.1")).toBe(true);
    expect(proxies.has("10.200.3.4")).toBe(true);
    expect(proxies.has("fd00::1")).toBe(true);
    expect(proxies.has("127.0.0.2")).toBe(false);
    expect(proxies.has("11.0.0.1")).toBe(false);
    expect(proxies.has("not-an-address")).toBe(false);
    expect(none.size).toBe(0);
    expect(none.has("127.0.0.1")).toBe(false);
  });

  it.each(["localhost", "10.0.0.0/33", "10.0.0.0/8/1", "fd00::/129", "10.0.0.0/x", "300.1.1.1"])("refuses %s, naming it", (entry) => {
    expect(() => parseTrustedProxies(`127.0.0.1, ${entry}`)).toThrow(`"${entry}" is not an IP address or a CIDR range`);
  });
});

describe("resolveClientAddress", () => {
  it("is the peer when no proxy is trusted, whatever X-Forwarded-For claims", () => {
    expect(resolveClientAddress("192.0.2.10", "203.0.113.7", none)).toBe("192.0.2.10");
    expect(resolveClientAddress("::ffff:192.0.2.10", undefined, none)).toBe("192.0.2.10");
    expect(resolveClientAddress(undefined, "203.0.113.7", none)).toBeNull();
  });

  it("is the peer when the peer is not a trusted proxy", () => {
    expect(resolveClientAddress("192.0.2.10", "203.0.113.7", proxies)).toBe("192.0.2.10");
  });

  it("through trusted proxies, is the right-most hop that is not one", () => {
    // The client wrote 198.51.100.1; the edge proxy appended the client's real address, the inner proxy the edge's.
    expect(resolveClientAddress("127.0.0.1", "198.51.100.1, 203.0.113.7, 10.1.1.1", proxies)).toBe("203.0.113.7");
    expect(resolveClientAddress("127.0.0.1", "203.0.113.7", proxies)).toBe("203.0.113.7");
  });

  it("is the peer when a trusted proxy forwarded no chain, and the left-most hop when every hop is trusted", () => {
    expect(resolveClientAddress("10.0.0.5", undefined, proxies)).toBe("10.0.0.5");
    expect(resolveClientAddress("127.0.0.1", "10.0.0.9, 10.0.0.5", proxies)).toBe("10.0.0.9");
  });

  it("is null when the hop that would be the client is not an address", () => {
    expect(resolveClientAddress("127.0.0.1", "203.0.113.7, unknown", proxies)).toBeNull();
  });
});

describe("applyForwarding", () => {
  it("replaces what an untrusted client sent with the socket's address and drops its other forwarding headers", () => {
    const headers: IncomingHttpHeaders = {
      host: "console.example",
      "x-forwarded-for": "203.0.113.7",
      "x-forwarded-host": "evil.example",
      "x-forwarded-proto": "https",
      "x-real-ip": "203.0.113.8",
      forwarded: "for=203.0.113.9",
      [CLIENT_ADDRESS_HEADER]: "198.51.100.9",
    };
    applyForwarding(headers, "::ffff:192.0.2.10", proxies);
    expect(headers).toEqual({ host: "console.example", "x-forwarded-for": "192.0.2.10", [CLIENT_ADDRESS_HEADER]: "192.0.2.10" });
  });

  it("keeps a trusted proxy's host and scheme and takes the client from its chain", () => {
    const headers: IncomingHttpHeaders = { "x-forwarded-for": "203.0.113.7", "x-forwarded-host": "console.example", "x-forwarded-proto": "https" };
    applyForwarding(headers, "127.0.0.1", proxies);
    expect(headers).toEqual({
      "x-forwarded-for": "203.0.113.7",
      "x-forwarded-host": "console.example",
      "x-forwarded-proto": "https",
      [CLIENT_ADDRESS_HEADER]: "203.0.113.7",
    });
  });

  it("leaves no client address when there is none to give", () => {
    const headers: IncomingHttpHeaders = { "x-forwarded-for": "unknown", [CLIENT_ADDRESS_HEADER]: "198.51.100.9" };
    applyForwarding(headers, "127.0.0.1", proxies);
    expect(headers).toEqual({});
  });
});
