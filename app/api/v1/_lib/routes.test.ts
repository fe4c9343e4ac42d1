import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { and, asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditEvents, serviceTokens } from "@/db/schema";
import { DATABASE_KINDS } from "@/test/database";
import { createTestInstance, type TestInstance } from "@/test/instance";
import { resolveActor, type Actor } from "@/lib/services/actor";
import { createServiceToken, hashToken, listServiceTokens, revokeServiceToken } from "@/lib/services/service-tokens";
import { ROLES, type Role } from "@/lib/runtime/types";
import { HTTP_METHODS } from "@/lib/server/http";

const V1 = fileURLToPath(new URL("..", import.meta.url));

/** The catch-all for paths no route takes: not a route of the API, tested on its own. */
const CATCH_ALL = "/api/v1/[...path]";

/**
 * Every route file under app/api/v1, as `/api/v1/...` with `[id]` segments, and the methods it
 * takes: those its OPTIONS answer allows (checked against its handlers in "methods" below).
 */
async function discoverRoutes(): Promise<{ path: string; methods: string[]; allow: string | null; module: Record<string, unknown> }[]> {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name === "route.ts") found.push(full);
    }
  };
  walk(V1);
  return Promise.all(
    found.sort().map(async (file) => {
      const exports = (await import(file)) as Record<string, unknown>;
      const dir = relative(V1, join(file, "..")).split("\\").join("/");
      const path = dir ? `/api/v1/${dir}` : "/api/v1";
      const options = exports.OPTIONS as ((request: Request) => Response | Promise<Response>) | undefined;
      const allow = options ? (await options(new Request(`http://loopstacks.test${path}`, { method: "OPTIONS" }))).headers.get("allow") : null;
      const allowed = allow?.split(", ") ?? [];
      return { path, methods: ["GET", "POST", "PUT", "PATCH", "DELETE"].filter((m) => allowed.includes(m)), allow, module: exports };
    }),
  );
}

type Handler = (request: Request, context: { params: Promise<Record<string, string>> }) => Promise<Response>;

describe.each(DATABASE_KINDS)("REST API v1 on %s", (kind) => {
  let t: TestInstance;
  let routes: Awaited<ReturnType<typeof discoverRoutes>>;
  let adminAlpha: Actor;
  const tokens: Record<string, string> = {};
  let alphaRunId: string;
  let alphaFrameId: string;

  async function call(method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string>; rawBody?: BodyInit } = {}) {
    const route = routes.find((r) => new RegExp(`^${r.path.replace(/\[[^\]]+\]/g, "[^/]+")}$`).test(path.split("?")[0]!));
    if (!route) throw new Error(`no route for ${path}`);
    const handler = route.module[method] as Handler;
    const names = [...route.path.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]!);
    const values = path.split("?")[0]!.split("/").filter((_, i) => route.path.split("/")[i]?.startsWith("["));
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: BodyInit | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] ??= "application/json";
    }
    const request = new Request(`http://loopstacks.test${path}`, { method, headers, ...(body !== undefined ? { body, duplex: "half" } : {}) } as RequestInit);
    const response = await handler(request, { params: Promise.resolve(Object.fromEntries(names.map((n, i) => [n, values[i]!]))) });
    if (!/json/.test(response.headers.get("content-type") ?? "")) {
      const bytes = new Uint8Array(await response.arrayBuffer());
      return { status: response.status, headers: response.headers, body: { contentType: response.headers.get("content-type"), bytes: bytes.byteLength } as Record<string, unknown> };
    }
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
  }

  let catchAll: Awaited<ReturnType<typeof discoverRoutes>>[number] | undefined;

  beforeAll(async () => {
    t = await createTestInstance(kind);
    t.install();
    const discovered = await discoverRoutes();
    routes = discovered.filter((r) => r.path !== CATCH_ALL);
    catchAll = discovered.find((r) => r.path === CATCH_ALL);
    adminAlpha = await resolveActor(t.database.db, await t.grant("alpha", "admin"));
    const adminBeta = await resolveActor(t.database.db, await t.grant("beta", "admin"));
    await t.registry.registerMany([
      { id: "alpha-echo", type: "llm", realm: "alpha", llm: { model: "scripted" } },
      { id: "beta-echo", type: "llm", realm: "beta", llm: { model: "scripted" } },
    ]);
    for (const role of ROLES) {
      tokens[`alpha-${role}`] = (await createServiceToken({ db: t.database.db }, adminAlpha, { name: `alpha ${role}`, realm: "alpha", role })).token;
      tokens[`beta-${role}`] = (await createServiceToken({ db: t.database.db }, adminBeta, { name: `beta ${role}`, realm: "beta", role })).token;
    }
    const run = await t.executor.run("alpha-echo", {}, { identity: adminAlpha.identity });
    alphaRunId = run.runId;
    alphaFrameId = run.trace.id;
  });
  afterAll(async () => {
    await t?.closeAll();
  });

  describe("service tokens", () => {
    it("shows a token once and keeps only its SHA-256", async () => {
      const { token, serviceToken } = await createServiceToken({ db: t.database.db }, adminAlpha, { name: "ci", realm: "alpha", role: "operator", expiresInDays: 30 });
      expect(token).toMatch(/^lst_[A-Za-z0-9_-]{43}$/);
      const [row] = await t.database.db.select().from(serviceTokens).where(eq(serviceTokens.id, serviceToken.id));
      expect(row!.tokenHash).toBe(hashToken(token));
      expect(JSON.stringify(row)).not.toContain(token.slice(10));
      expect(JSON.stringify(await listServiceTokens({ db: t.database.db }, adminAlpha))).not.toContain(token.slice(10));
      const [created] = await t.database.db.select().from(auditEvents).where(and(eq(auditEvents.action, "token.created"), eq(auditEvents.targetId, serviceToken.id)));
      expect(created).toMatchObject({ realmId: "alpha", data: { name: "ci", role: "operator", prefix: token.slice(0, 10) } });
      expect(JSON.stringify(created)).not.toContain(token.slice(10));
    });

    it("records the last use, and a revoked token stops working at once", async () => {
      const { token, serviceToken } = await createServiceToken({ db: t.database.db }, adminAlpha, { name: "short-lived", realm: "alpha", role: "viewer" });
      expect(serviceToken.lastUsedAt).toBeNull();
      expect((await call("GET", "/api/v1/loops", { token })).status).toBe(200);
      const used = (await listServiceTokens({ db: t.database.db }, adminAlpha)).find((s) => s.id === serviceToken.id);
      expect(used?.lastUsedAt).not.toBeNull();
      await revokeServiceToken({ db: t.database.db }, adminAlpha, { id: serviceToken.id });
      expect((await call("GET", "/api/v1/loops", { token })).status).toBe(401);
      expect((await t.database.db.select().from(auditEvents).orderBy(asc(auditEvents.seq))).at(-1)).toMatchObject({ action: "token.revoked", targetId: serviceToken.id });
      expect((await listServiceTokens({ db: t.database.db }, adminAlpha)).find((s) => s.id === serviceToken.id)?.status).toBe("revoked");
    });

    it("refuses an expired token", async () => {
      const past = new Date(Date.now() - 2 * 86_400_000);
      const { token, serviceToken } = await createServiceToken({ db: t.database.db, now: () => past }, adminAlpha, { name: "old", realm: "alpha", role: "viewer", expiresInDays: 1 });
      expect(serviceToken.status).toBe("live");
      expect((await call("GET", "/api/v1/loops", { token })).status).toBe(401);
      expect((await listServiceTokens({ db: t.database.db }, adminAlpha)).find((s) => s.id === serviceToken.id)?.status).toBe("expired");
    });

    it("lets only admins of the realm create, list and revoke tokens", async () => {
      const operator = await resolveActor(t.database.db, await t.grant("alpha", "operator"));
      const betaAdmin = await resolveActor(t.database.db, await t.grant("beta", "admin"));
      await expect(createServiceToken({ db: t.database.db }, operator, { name: "x", realm: "alpha", role: "viewer" })).rejects.toMatchObject({ code: "forbidden" });
      await expect(createServiceToken({ db: t.database.db }, betaAdmin, { name: "x", realm: "alpha", role: "admin" })).rejects.toMatchObject({ code: "not_found" });
      expect(await listServiceTokens({ db: t.database.db }, operator)).toEqual([]);
      expect((await listServiceTokens({ db: t.database.db }, betaAdmin)).every((s) => s.realm === "beta")).toBe(true);
      const [alphaToken] = await listServiceTokens({ db: t.database.db }, adminAlpha);
      await expect(revokeServiceToken({ db: t.database.db }, betaAdmin, { id: alphaToken!.id })).rejects.toMatchObject({ code: "not_found" });
    });
  });

  describe("authentication", () => {
    it.each([
      ["no header", {}],
      ["another scheme", { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` }],
      ["a malformed token", { authorization: "Bearer lst_short" }],
      ["an unknown token", { authorization: `Bearer lst_${"A".repeat(43)}` }],
    ])("answers 401 with a JSON error to %s", async (_, headers) => {
      const response = await call("GET", "/api/v1/loops", { headers });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(response.body).toMatchObject({ error: { code: "unauthenticated" } });
    });
  });

  /** What Next does with a method a route file does not export: an empty 405, HEAD from GET, OPTIONS listing the exports. */
  describe("methods", () => {
    it("answers every method a route does not take with a JSON 405 and the route's Allow header, before the token", async () => {
      for (const route of routes) {
        const path = route.path.replace(/\[[^\]]+\]/g, "00000000-0000-0000-0000-000000000000");
        // Next answers a method a route file does not export itself: every one must be exported (HEAD comes from GET).
        for (const method of HTTP_METHODS) {
          if (method === "HEAD" && typeof route.module.GET === "function") continue;
          expect(typeof route.module[method], `${route.path} exports no ${method}: Next would answer it`).toBe("function");
        }
        expect(route.allow, `OPTIONS ${route.path}`).toBe(
          [...route.methods, ...(route.methods.includes("GET") ? ["HEAD"] : []), "OPTIONS"].sort().join(", "),
        );
        expect(route.methods.length, `${route.path} takes no method`).toBeGreaterThan(0);
        const options = await call("OPTIONS", path);
        expect(options.status).toBe(204);
        expect(options.headers.get("allow")).toBe(route.allow);
        for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"]) {
          const response = await call(method, path);
          if (route.methods.includes(method)) {
            // A method the route takes reaches its handler: the token check, or the public answer.
            expect(response.status, `${method} ${route.path}`).toBeOneOf([200, 401]);
            continue;
          }
          expect(response.status, `${method} ${route.path}`).toBe(405);
          expect(response.headers.get("allow"), `${method} ${route.path}`).toBe(route.allow);
          expect(response.headers.get("content-type")).toMatch(/^application\/json/);
          expect(response.body, `${method} ${route.path}`).toMatchObject({
            error: { code: "method_not_allowed", message: `${method} is not allowed on ${path}; it takes ${route.allow}` },
          });
        }
        if (!route.methods.includes("GET")) {
          const head = await call("HEAD", path);
          expect(head.status, `HEAD ${route.path}`).toBe(405);
          expect(head.headers.get("allow")).toBe(route.allow);
        }
      }
    });

    it("refuses a wrong method with 405 whatever the token, and a right one still needs the token", async () => {
      expect(await call("PUT", "/api/v1/runs", { token: tokens["beta-admin"] })).toMatchObject({ status: 405, body: { error: { code: "method_not_allowed" } } });
      expect(await call("GET", `/api/v1/runs/${alphaRunId}/cancel`, { token: tokens["beta-viewer"] })).toMatchObject({ status: 405, body: { error: { code: "method_not_allowed" } } });
      expect((await call("DELETE", "/api/v1/loops")).headers.get("allow")).toBe("GET, HEAD, OPTIONS, POST");
      expect((await call("POST", "/api/v1/runs")).status).toBe(401);
    });

    it("answers a path no route takes with a JSON 404 naming the method and path, for every method", async () => {
      expect(catchAll, `no ${CATCH_ALL} route: Next would answer unknown paths with its HTML page`).toBeDefined();
      for (const method of HTTP_METHODS) expect(typeof catchAll!.module[method], `${CATCH_ALL} ${method}`).toBe("function");
      for (const [method, path] of [
        ["GET", "/api/v1/nope"],
        ["GET", "/api/v1/loops/demo-echo"],
        ["POST", `/api/v1/runs/${alphaRunId}/retry`],
        ["DELETE", "/api/v1/nope/deeper"],
        ["OPTIONS", "/api/v1/nope"],
      ] as const) {
        const handler = catchAll!.module[method] as Handler;
        const response = await handler(new Request(`http://loopstacks.test${path}`, { method, headers: { authorization: `Bearer ${tokens["alpha-admin"]!}` } }), {
          params: Promise.resolve({ path: path.split("/").slice(3).join("/") }),
        });
        expect(response.status, `${method} ${path}`).toBe(404);
        expect(response.headers.get("content-type")).toMatch(/^application\/json/);
        expect(await response.json()).toEqual({ error: { code: "not_found", message: `No such API route: ${method} ${path}` } });
      }
    });

    it("serves the API's index at /api/v1, without a token", async () => {
      expect(await call("GET", "/api/v1")).toMatchObject({ status: 200, body: { name: "LoopStacks REST API", version: "1", openapi: "/api/v1/openapi.json" } });
    });
  });

  describe("endpoints", () => {
    it("lists the loops of the token's realm only", async () => {
      const response = await call("GET", "/api/v1/loops", { token: tokens["alpha-viewer"] });
      expect((response.body!.loops as { id: string }[]).map((l) => l.id)).toEqual(["alpha-echo"]);
      expect((await call("GET", "/api/v1/loops?realm=beta", { token: tokens["alpha-viewer"] })).body!.loops).toEqual([]);
    });

    it("registers a loop, then reports an unchanged definition", async () => {
      const definition = { id: "alpha-registered", type: "llm", realm: "alpha", llm: { model: "scripted", systemPrompt: "Be brief." } };
      const first = await call("POST", "/api/v1/loops", { token: tokens["alpha-maintainer"], body: definition });
      expect(first).toMatchObject({ status: 201, body: { loopId: "alpha-registered", revision: 1, changed: true, promptVersion: 1 } });
      expect(await call("POST", "/api/v1/loops", { token: tokens["alpha-maintainer"], body: definition })).toMatchObject({ status: 200, body: { changed: false } });
      const invalid = await call("POST", "/api/v1/loops", { token: tokens["alpha-maintainer"], body: { id: "Bad Id", type: "llm", realm: "alpha", llm: {} } });
      expect(invalid.status).toBe(422);
      expect((invalid.body!.error as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual(expect.arrayContaining(["id", "llm.model"]));
    });

    it("runs a loop and waits for the result and its trace", async () => {
      const response = await call("POST", "/api/v1/runs", { token: tokens["alpha-operator"], body: { loopId: "alpha-echo", input: { question: "hi" }, wait: true } });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ done: true, status: "succeeded", loopId: "alpha-echo", trace: { loop: { id: "alpha-echo", realm: "alpha" }, status: "succeeded" } });
      const trace = response.body!.trace as { identity: { subject: string; kind: string }; authorization: { allowed: boolean; via: string } };
      expect(trace.identity).toMatchObject({ kind: "service" });
      expect(trace.authorization).toMatchObject({ allowed: true, role: "operator", via: trace.identity.subject });
    });

    it("starts a run without waiting, and the run can be read with its trace (audited)", async () => {
      const started = await call("POST", "/api/v1/runs", { token: tokens["alpha-operator"], body: { loopId: "alpha-echo" } });
      expect(started.status).toBe(202);
      const runId = started.body!.runId as string;
      expect(started.headers.get("location")).toBe(`/api/v1/runs/${runId}`);
      await t.executor.drain();
      const read = await call("GET", `/api/v1/runs/${runId}`, { token: tokens["alpha-viewer"] });
      expect(read).toMatchObject({ status: 200, body: { run: { id: runId, status: "succeeded" }, trace: { loop: { id: "alpha-echo" } } } });
      const viewed = (await t.database.db.select().from(auditEvents).orderBy(asc(auditEvents.seq))).at(-1);
      expect(viewed).toMatchObject({ action: "trace.viewed", targetId: runId, realmId: "alpha", actor: { kind: "service", source: "service-token" } });
    });

    it("posts a score as the API, whatever the body says", async () => {
      const response = await call("POST", "/api/v1/scores", { token: tokens["alpha-operator"], body: { frameId: alphaFrameId, value: 0.8, label: "good", comment: "ok", source: "human" } });
      expect(response).toMatchObject({ status: 201, body: { frameId: alphaFrameId, value: 0.8, label: "good", source: "api", realmId: "alpha" } });
      expect((await call("POST", "/api/v1/scores", { token: tokens["alpha-operator"], body: { frameId: alphaFrameId } })).status).toBe(422);
    });

    it("refuses bodies over 1 MB, declared or streamed, and bodies that are not JSON", async () => {
      const big = { loopId: "alpha-echo", input: { text: "x".repeat(1024 * 1024) } };
      expect(await call("POST", "/api/v1/runs", { token: tokens["alpha-operator"], body: big })).toMatchObject({ status: 413, body: { error: { code: "payload_too_large" } } });
      const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          sent += chunk.byteLength;
          if (sent > 4 * 1024 * 1024) controller.close();
          else controller.enqueue(chunk);
        },
      });
      const streamed = await call("POST", "/api/v1/runs", { token: tokens["alpha-operator"], rawBody: stream, headers: { "content-type": "application/json" } });
      expect(streamed.status).toBe(413);
      expect(sent).toBeLessThan(2 * 1024 * 1024);
      expect((await call("POST", "/api/v1/runs", { token: tokens["alpha-operator"], rawBody: "loopId=alpha-echo", headers: { "content-type": "application/x-www-form-urlencoded" } })).status).toBe(400);
      expect((await call("POST", "/api/v1/runs", { token: tokens["alpha-operator"], rawBody: "{nope", headers: { "content-type": "application/json" } })).status).toBe(400);
    });

    it("refuses run input nested too deep with 422, however deep", async () => {
      for (const depth of [2_000, 150_000]) {
        const deep = `{"loopId":"alpha-echo","input":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`;
        const response = await call("POST", "/api/v1/runs", { token: tokens["alpha-operator"], rawBody: deep, headers: { "content-type": "application/json" } });
        expect(response).toMatchObject({ status: 422, body: { error: { code: "invalid_input", message: expect.stringContaining("more than 100 levels deep") as string } } });
      }
    });

    it("refuses an export range with a malformed, impossible or far-off date with 400 naming the field", async () => {
      const token = tokens["alpha-auditor"];
      const range = (from: unknown, to: unknown) => call("POST", "/api/v1/exports", { token, body: { kind: "realm", realmId: "alpha", from, to } });
      for (const [from, to, field] of [
        ["2026-01-01T00:00:00Z", "+010000-01-01T00:00:00Z", "to"],
        ["2026-01-01T00:00:00Z", "99999", "to"],
        ["2026", "2026-12-31T00:00:00Z", "from"],
        ["2026-01-01T00:00:00Z", "Dec 31 2026", "to"],
        ["2026-02-30T00:00:00Z", "2026-12-31T00:00:00Z", "from"],
      ]) {
        const response = await range(from, to);
        expect(response, `${from} – ${to}`).toMatchObject({ status: 400, body: { error: { code: "invalid_request", issues: [{ path: field }] } } });
      }
      const ok = await range("2026-01-01T00:00:00Z", "9999-12-31T23:59:59Z");
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(ok.body).toMatchObject({ contentType: "application/gzip" });
    });

    it("serves an OpenAPI 3.1 document that describes every route", async () => {
      const response = await call("GET", "/api/v1/openapi.json");
      expect(response.status).toBe(200);
      const document = response.body as { openapi: string; paths: Record<string, Record<string, unknown>> };
      expect(document.openapi).toBe("3.1.0");
      for (const route of routes) {
        const path = route.path.replace(/\[([^\]]+)\]/g, "{$1}");
        expect(Object.keys(document.paths), `OpenAPI document lacks ${path}`).toContain(path);
        for (const method of route.methods) expect(document.paths[path], `${method} ${path}`).toHaveProperty(method.toLowerCase());
      }
    });
  });

  /**
   * Every route and method × every role × own and foreign realm. The table is checked against
   * the route files, so a new route without an entry here fails.
   */
  describe("realm isolation matrix", () => {
    const PUBLIC = new Set(["GET /api/v1", "GET /api/v1/openapi.json"]);
    type Case = { path: () => string; body?: () => unknown; allowed: Role[]; ok: number[]; foreign: number[] };
    const MATRIX: Record<string, Case> = {
      "GET /api/v1/loops": { path: () => "/api/v1/loops?realm=alpha", allowed: [...ROLES], ok: [200], foreign: [200] },
      "POST /api/v1/loops": {
        path: () => "/api/v1/loops",
        body: () => ({ id: `alpha-matrix-${Math.random().toString(36).slice(2, 8)}`, type: "llm", realm: "alpha", llm: { model: "scripted" } }),
        allowed: ["maintainer", "admin"],
        ok: [201],
        foreign: [403],
      },
      "POST /api/v1/runs": { path: () => "/api/v1/runs", body: () => ({ loopId: "alpha-echo" }), allowed: ["operator", "maintainer", "admin"], ok: [202], foreign: [404] },
      "GET /api/v1/runs/[id]": { path: () => `/api/v1/runs/${alphaRunId}`, allowed: [...ROLES], ok: [200], foreign: [404] },
      "POST /api/v1/scores": { path: () => "/api/v1/scores", body: () => ({ frameId: alphaFrameId, value: 1 }), allowed: ["operator", "maintainer", "admin"], ok: [201], foreign: [404] },
      "POST /api/v1/runs/[id]/cancel": { path: () => `/api/v1/runs/${alphaRunId}/cancel`, allowed: ["operator", "maintainer", "admin"], ok: [202, 409], foreign: [404] },
      "POST /api/v1/exports": { path: () => "/api/v1/exports", body: () => ({ kind: "run", runId: alphaRunId }), allowed: ["auditor", "admin"], ok: [200], foreign: [404] },
    };

    it("has an entry for every route and method, and every route refuses anonymous callers", async () => {
      for (const route of routes) {
        for (const method of route.methods) {
          const key = `${method} ${route.path}`;
          if (PUBLIC.has(key)) continue;
          expect(MATRIX, `no isolation matrix entry for ${key}`).toHaveProperty([key]);
          const response = await call(method, MATRIX[key]!.path(), MATRIX[key]!.body ? { body: MATRIX[key]!.body!() } : {});
          expect(response.status, `${key} without a token`).toBe(401);
        }
      }
    });

    for (const [key, entry] of Object.entries(MATRIX)) {
      const method = key.split(" ")[0]!;
      it.each(ROLES.map((role) => [role]))(`${key} as %s of the realm, and of another realm`, async (role) => {
        const own = await call(method, entry.path(), { token: tokens[`alpha-${role}`], ...(entry.body ? { body: entry.body() } : {}) });
        if (entry.allowed.includes(role)) expect(own.status, JSON.stringify(own.body)).toBeOneOf(entry.ok);
        else expect(own.status, JSON.stringify(own.body)).toBe(403);
        const foreign = await call(method, entry.path(), { token: tokens[`beta-${role}`], ...(entry.body ? { body: entry.body() } : {}) });
        expect(foreign.status, JSON.stringify(foreign.body)).toBeOneOf(entry.foreign);
        // A foreign caller never sees another realm's data, and a 404 says no more than "does not exist".
        expect(JSON.stringify(foreign.body)).not.toMatch(/"realm":"alpha"|"realmId":"alpha"|"loop":\{/);
        if (foreign.status === 404) expect(foreign.body).toMatchObject({ error: { code: "not_found", message: expect.stringMatching(/does not exist$/) } });
      });
    }
  });
});
