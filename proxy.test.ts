import { NextRequest } from "next/server";
import { describe, expect, it } from "vitest";
import type { NextConfig } from "next";
import { ACTION_BODY_LIMIT_BYTES, config, proxy } from "./proxy";

const request = (path: string, init: { method?: string; headers?: Record<string, string> } = {}) => new NextRequest(new URL(path, "http://localhost:3000"), init);
const session = { cookie: "authjs.session-token=abc" };

describe("proxy", () => {
  it("refuses a server action whose body is larger than actions take, with 413, signed in or not", async () => {
    for (const path of ["/loops/demo-echo", "/login"]) {
      for (const cookie of [{}, session]) {
        const response = proxy(request(path, { method: "POST", headers: { ...cookie, "next-action": "7f00", "content-length": String(ACTION_BODY_LIMIT_BYTES + 1) } }));
        expect(response.status).toBe(413);
        expect(await response.text()).toContain(`at most ${ACTION_BODY_LIMIT_BYTES} bytes`);
      }
    }
  });

  it("refuses at the limit Next itself holds server actions to", async () => {
    const { default: nextConfig } = (await import(new URL("./next.config.js", import.meta.url).href)) as { default: NextConfig };
    const [, amount, unit] = /^(\d+)(kb|mb)$/.exec(String(nextConfig.experimental?.serverActions?.bodySizeLimit)) ?? [];
    expect(Number(amount) * (unit === "mb" ? 1024 * 1024 : 1024)).toBe(ACTION_BODY_LIMIT_BYTES);
  });

  it("lets a server action up to the limit, and other large posts, through to their own checks", () => {
    const atLimit = proxy(request("/loops/demo-echo", { method: "POST", headers: { ...session, "next-action": "7f00", "content-length": String(ACTION_BODY_LIMIT_BYTES) } }));
    expect(atLimit.status).toBe(200);
    expect(atLimit.headers.get("x-middleware-next")).toBe("1");
    const notAnAction = proxy(request("/loops/demo-echo", { method: "POST", headers: { ...session, "content-length": String(ACTION_BODY_LIMIT_BYTES * 4) } }));
    expect(notAnAction.headers.get("x-middleware-next")).toBe("1");
  });

  it("sends visitors without a session to the login page, keeping where they were going", () => {
    const response = proxy(request("/runs?caller=vic"));
    expect(response.status).toBe(307);
    expect(response.headers.get("location")).toBe("http://localhost:3000/login?next=%2Fruns%3Fcaller%3Dvic");
    expect(proxy(request("/")).headers.get("location")).toBe("http://localhost:3000/login");
    expect(proxy(request("/runs", { headers: session })).headers.get("x-middleware-next")).toBe("1");
  });

  it("leaves the login page and the published signing keys open to visitors without a session", () => {
    for (const path of ["/login", "/login?next=%2Fruns", "/.well-known/loopstacks-keys.json"]) {
      expect(proxy(request(path)).headers.get("x-middleware-next"), path).toBe("1");
    }
    expect(proxy(request("/loginx")).status).toBe(307);
  });

  it("does not run for API routes or static assets", () => {
    const matcher = new RegExp(`^${config.matcher[0]}$`);
    for (const path of ["/api/health", "/api/v1/runs", "/_next/static/chunks/app.js", "/favicon.ico"]) expect(matcher.test(path), path).toBe(false);
    for (const path of ["/", "/login", "/runs", "/.well-known/loopstacks-keys.json"]) expect(matcher.test(path), path).toBe(true);
  });
});
