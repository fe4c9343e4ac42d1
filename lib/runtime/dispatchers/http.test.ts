import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseLoopDefinition, type HttpLoopDefinition, type LoopDefinitionInput } from "../definition";
import type { DispatchContext } from "../dispatch";
import { DispatchError } from "../retry";
import type { Attempt } from "../types";
import { parseAddressList } from "../../address-list.mjs";
import { createHttpClient, createHttpDispatcher, defaultHttpClient, proxySettingsFrom } from "../http-client";
import { dispatchHttp } from "./http";

interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

type Handler = (request: SeenRequest, response: ServerResponse) => void;

const SECRET = "s3cr3t-value-9f8e7d";

let server: Server;
let baseUrl: string;
let seen: SeenRequest[];
let handler: Handler;
/** Called as soon as a request has been read, before the handler answers. */
let onRequest: (request: SeenRequest) => void;

// A fresh server per test gives each test its own origin, so no pooled keep-alive socket from a
// previous test (for instance one left by a cancelled request) is ever reused.
beforeEach(async () => {
  seen = [];
  handler = (_request, response) => response.end("{}");
  onRequest = () => undefined;
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const recorded = { method: request.method ?? "", url: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks).toString("utf8") };
      seen.push(recorded);
      onRequest(recorded);
      handler(recorded, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

function httpLoop(http: Partial<Extract<LoopDefinitionInput, { type: "http" }>["http"]>, retry: { maxAttempts?: number; maxDelayMs?: number } = {}): HttpLoopDefinition {
  const definition = parseLoopDefinition({
    id: "call-api",
    realm: "test",
    type: "http",
    http: { url: `${baseUrl}/`, ...http },
    retry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 20, ...retry },
  });
  if (definition.type !== "http") throw new Error("expected an http loop");
  return definition;
}

function context(options: { signal?: AbortSignal; secrets?: Record<string, string>; http?: DispatchContext["http"] } = {}) {
  const attempts: Attempt[] = [];
  const secrets = options.secrets ?? {};
  const unused = () => {
    throw new Error("MCP is not used by http loops");
  };
  const ctx: DispatchContext = {
    frameId: "frame-1a2b",
    runId: "run-3c4d",
    realm: "test",
    signal: options.signal ?? new AbortController().signal,
    clock: { now: () => new Date() },
    http: options.http ?? defaultHttpClient,
    secrets: { resolve: (name) => secrets[name] },
    mcp: { callTool: unused, listTools: unused, close: unused },
    recordAttempt: (attempt) => attempts.push(attempt),
  };
  return { ctx, attempts };
}

async function failure(promise: Promise<unknown>): Promise<DispatchError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DispatchError) return error;
    throw error;
  }
  throw new Error("expected the dispatch to fail");
}

describe("dispatchHttp: the request", () => {
  it("sends the rendered URL and body exactly", async () => {
    handler = (_request, response) => json(response, 200, { ok: true });
    const { ctx, attempts } = context();
    const definition = httpLoop({
      method: "POST",
      url: `${baseUrl}/users/{{input.user.id}}/notes?tag={{ input.tag }}`,
      body: { name: "{{input.user.name}}", count: "{{input.count}}", note: "hi {{input.user.name}} #{{input.count}}", labels: ["{{input.labels}}"] },
    });

    const outcome = await dispatchHttp(definition, { user: { id: "a b/c", name: "Ada" }, tag: "x&y=1", count: 3, labels: { a: 1 } }, ctx);

    expect(outcome).toEqual({ output: { ok: true } });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.method).toBe("POST");
    expect(seen[0]?.url).toBe("/users/a%20b%2Fc/notes?tag=x%26y%3D1");
    expect(seen[0]?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(seen[0]?.body ?? "")).toEqual({ name: "Ada", count: 3, note: "hi Ada #3", labels: [{ a: 1 }] });
    expect(attempts).toMatchObject([{ attempt: 1, ok: true }]);
  });

  it("sends the input itself when no body template is set, and no body for GET", async () => {
    const { ctx } = context();
    await dispatchHttp(httpLoop({ method: "PUT" }), { a: [1, 2] }, ctx);
    await dispatchHttp(httpLoop({ method: "GET", url: `${baseUrl}/items/{{input.id}}` }), { id: 7 }, ctx);

    expect(seen[0]?.body).toBe('{"a":[1,2]}');
    expect(seen[1]).toMatchObject({ method: "GET", url: "/items/7", body: "" });
    expect(seen[1]?.headers["content-type"]).toBeUndefined();
  });

  it("renders literal headers and keeps a content type the definition sets", async () => {
    const { ctx } = context();
    await dispatchHttp(httpLoop({ method: "PATCH", headers: { "X-Tenant": "t-{{input.tenant}}", "Content-Type": "application/merge-patch+json" } }), { tenant: 9 }, ctx);

    expect(seen[0]?.headers["x-tenant"]).toBe("t-9");
    expect(seen[0]?.headers["content-type"]).toBe("application/merge-patch+json");
  });

  it("sends a User-Agent, Accept and Accept-Encoding unless the definition sets its own, and decompresses the response", async () => {
    handler = (_request, response) => {
      response.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
      response.end(gzipSync(JSON.stringify({ compressed: true })));
    };
    const { ctx } = context();
    expect(await dispatchHttp(httpLoop({}), {}, ctx)).toEqual({ output: { compressed: true } });
    expect(seen[0]?.headers).toMatchObject({ "user-agent": "loopstacks", accept: "*/*", "accept-encoding": expect.stringContaining("gzip") });

    handler = (_request, response) => json(response, 200, {});
    await dispatchHttp(httpLoop({ headers: { "User-Agent": "crm-sync/2", Accept: "application/json" } }), {}, ctx);
    expect(seen[1]?.headers).toMatchObject({ "user-agent": "crm-sync/2", accept: "application/json" });
  });

  it("refuses, before sending, a rendered header value beyond Latin-1 or with a control character", async () => {
    const { ctx, attempts } = context();
    for (const value of ["Zoë €", "a\u0001b", "line\nbreak"]) {
      const error = await failure(dispatchHttp(httpLoop({ headers: { "X-Name": "{{input.name}}" } }), { name: value }, ctx));
      expect(error).toMatchObject({ code: "invalid_header", retryable: false });
    }
    expect(seen).toHaveLength(0);
    expect(attempts).toHaveLength(0);
  });

  it("fails before sending when a template value is missing", async () => {
    const { ctx, attempts } = context();
    const error = await failure(dispatchHttp(httpLoop({ url: `${baseUrl}/{{input.id}}` }), {}, ctx));

    expect(error.code).toBe("template_missing_value");
    expect(error.message).toContain("input.id is missing");
    expect(seen).toHaveLength(0);
    expect(attempts).toHaveLength(0);
  });
});

describe("dispatchHttp: secrets", () => {
  it("sends the secret header but never returns its value, even when the server echoes it", async () => {
    handler = (request, response) => json(response, 200, { echoed: request.headers.authorization, [`${request.headers.authorization}`]: "as a key" });
    const { ctx, attempts } = context({ secrets: { API_TOKEN: `Bearer ${SECRET}` } });
    const definition = httpLoop({ headers: { Authorization: { secret: "API_TOKEN" } } });

    const outcome = await dispatchHttp(definition, { q: 1 }, ctx);

    expect(seen[0]?.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(outcome.output).toEqual({ echoed: "[redacted]", "[redacted]": "as a key" });
    expect(JSON.stringify(outcome)).not.toContain(SECRET);
    expect(JSON.stringify(attempts)).not.toContain(SECRET);
  });

  it("keeps the secret out of a text response", async () => {
    handler = (request, response) => response.end(`you sent ${JSON.stringify(request.headers)}`);
    const { ctx } = context({ secrets: { KEY: SECRET } });

    const outcome = await dispatchHttp(httpLoop({ headers: { "X-Api-Key": { secret: "KEY" } }, response: { type: "text" } }), null, ctx);

    expect(outcome.output).toContain('"x-api-key":"[redacted]"');
    expect(JSON.stringify(outcome)).not.toContain(SECRET);
  });

  it("keeps the secret out of errors and recorded attempts when a failing server echoes it", async () => {
    handler = (request, response) => json(response, 503, { error: "overloaded", yourKey: request.headers["x-api-key"] });
    const { ctx, attempts } = context({ secrets: { KEY: SECRET } });

    const error = await failure(dispatchHttp(httpLoop({ headers: { "X-Api-Key": { secret: "KEY" } } }, { maxAttempts: 2 }), {}, ctx));

    expect(seen).toHaveLength(2);
    expect(seen[0]?.headers["x-api-key"]).toBe(SECRET);
    expect(error.code).toBe("http_status");
    expect(error.details).toEqual({ body: '{"error":"overloaded","yourKey":"[redacted]"}' });
    expect(attempts).toHaveLength(2);
    for (const text of [error.message, JSON.stringify(error.details), JSON.stringify(error.toFrameError()), JSON.stringify(attempts)]) {
      expect(text).not.toContain(SECRET);
    }
  });

  it("keeps the secret out of an invalid JSON error", async () => {
    handler = (request, response) => response.end(`not json ${String(request.headers["x-api-key"])}`);
    const { ctx, attempts } = context({ secrets: { KEY: SECRET } });

    const error = await failure(dispatchHttp(httpLoop({ headers: { "X-Api-Key": { secret: "KEY" } } }), {}, ctx));

    expect(error.code).toBe("invalid_response");
    expect(JSON.stringify(error.toFrameError())).not.toContain(SECRET);
    expect(String(error.cause ?? "")).not.toContain(SECRET);
    expect(JSON.stringify(attempts)).not.toContain(SECRET);
  });

  it("fails without sending when a secret is not set", async () => {
    const { ctx, attempts } = context();
    const error = await failure(dispatchHttp(httpLoop({ headers: { Authorization: { secret: "MISSING_TOKEN" } } }), {}, ctx));

    expect(error).toMatchObject({ code: "secret_missing", message: "Secret MISSING_TOKEN is not set for realm test", retryable: false });
    expect(seen).toHaveLength(0);
    expect(attempts).toHaveLength(0);
  });

  it("fails without sending when the secret is not available to the frame's realm, saying no more than for one not set", async () => {
    const { ctx, attempts } = context();
    const billingOnly: DispatchContext["secrets"] = { resolve: (name, realm) => (name === "KEY" && realm === "billing" ? SECRET : undefined) };
    const error = await failure(dispatchHttp(httpLoop({ headers: { Authorization: { secret: "KEY" } } }), {}, { ...ctx, secrets: billingOnly }));

    expect(error).toMatchObject({ code: "secret_missing", message: "Secret KEY is not set for realm test", retryable: false });
    expect(seen).toHaveLength(0);
    expect(attempts).toHaveLength(0);
  });
});

describe("dispatchHttp: redirects", () => {
  let other: Server;
  let otherUrl: string;
  const otherSeen: SeenRequest[] = [];

  beforeEach(async () => {
    otherSeen.length = 0;
    other = createServer((request, response) => {
      request.resume();
      request.on("end", () => {
        otherSeen.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers, body: "" });
        json(response, 200, { from: "other" });
      });
    });
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    other.closeAllConnections();
    await new Promise((resolve) => other.close(resolve));
  });

  const redirectTo = (location: () => string, status = 302): Handler => (request, response) => {
    if (request.url === "/moved") return json(response, 200, { from: "same origin", method: request.method, body: request.body });
    response.writeHead(status, { location: location() });
    response.end();
  };

  it("never sends a secret header to another origin: the redirect is refused", async () => {
    handler = redirectTo(() => `${otherUrl}/steal`);
    const { ctx } = context({ secrets: { KEY: SECRET } });
    const error = await failure(dispatchHttp(httpLoop({ headers: { "X-Api-Key": { secret: "KEY" } } }), {}, ctx));
    expect(error.code).toBe("http_redirect_refused");
    expect(error.message).toContain(otherUrl);
    expect(otherSeen).toHaveLength(0);
  });

  it("follows a redirect within the origin with the secret header", async () => {
    handler = redirectTo(() => "/moved", 307);
    const { ctx } = context({ secrets: { KEY: SECRET } });
    const outcome = await dispatchHttp(httpLoop({ method: "POST", headers: { "X-Api-Key": { secret: "KEY" } } }), { q: 1 }, ctx);
    expect(outcome.output).toEqual({ from: "same origin", method: "POST", body: '{"q":1}' });
    expect(seen.map((r) => [r.url, r.headers["x-api-key"]])).toEqual([
      ["/", SECRET],
      ["/moved", SECRET],
    ]);
  });

  it("follows a redirect to another origin without secrets, dropping credentials; a 303 continues as a GET", async () => {
    handler = redirectTo(() => `${otherUrl}/elsewhere`, 303);
    const { ctx } = context();
    const outcome = await dispatchHttp(httpLoop({ method: "POST", headers: { Authorization: "Basic abc", "X-Trace": "t1" } }), { q: 1 }, ctx);
    expect(outcome.output).toEqual({ from: "other" });
    expect(otherSeen).toHaveLength(1);
    expect(otherSeen[0]).toMatchObject({ method: "GET", url: "/elsewhere" });
    expect(otherSeen[0]!.headers.authorization).toBeUndefined();
    expect(otherSeen[0]!.headers["x-trace"]).toBe("t1");
  });

  it("stops after 5 redirects", async () => {
    handler = (request, response) => {
      response.writeHead(302, { location: `/hop${seen.length}` });
      response.end();
    };
    const { ctx } = context();
    const error = await failure(dispatchHttp(httpLoop({}, { maxAttempts: 1 }), {}, ctx));
    expect(error.code).toBe("http_redirect");
    expect(error.message).toMatch(/More than 5 redirects/);
    expect(seen).toHaveLength(6);
  });
});

describe("dispatchHttp: retries and idempotency", () => {
  it("retries a 503 and succeeds on the second attempt with the same Idempotency-Key", async () => {
    handler = (_request, response) => (seen.length === 1 ? json(response, 503, { error: "busy" }) : json(response, 200, { done: true }));
    const { ctx, attempts } = context();

    const outcome = await dispatchHttp(httpLoop({}), { x: 1 }, ctx);

    expect(outcome.output).toEqual({ done: true });
    expect(seen.map((request) => request.headers["idempotency-key"])).toEqual(["frame-1a2b", "frame-1a2b"]);
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toMatchObject({ attempt: 1, ok: false, error: { code: "http_status", status: 503, retryable: true } });
    expect(attempts[0]?.delayMs).toBeGreaterThan(0);
    expect(attempts[1]).toMatchObject({ attempt: 2, ok: true });
  });

  it("waits as long as a 429's Retry-After asks, up to the policy's maxDelayMs", async () => {
    handler = (_request, response) => {
      if (seen.length === 1) {
        response.writeHead(429, { "content-type": "application/json", "retry-after": "1" });
        return response.end("{}");
      }
      json(response, 200, { done: true });
    };
    const { ctx, attempts } = context();

    const t0 = performance.now();
    const outcome = await dispatchHttp(httpLoop({}, { maxDelayMs: 2_000 }), {}, ctx);

    expect(outcome.output).toEqual({ done: true });
    expect(attempts[0]).toMatchObject({ ok: false, error: { code: "http_status", status: 429 }, delayMs: 1_000 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(990);
  });

  it("keeps an Idempotency-Key the definition sets", async () => {
    const { ctx } = context();
    await dispatchHttp(httpLoop({ headers: { "idempotency-key": "order-{{input.order}}" } }), { order: 12 }, ctx);
    expect(seen[0]?.headers["idempotency-key"]).toBe("order-12");
  });

  it("fails at once on a 404", async () => {
    handler = (_request, response) => json(response, 404, { error: "no such user" });
    const { ctx, attempts } = context();

    const error = await failure(dispatchHttp(httpLoop({ url: `${baseUrl}/users/1?token=abc123` }), {}, ctx));

    expect(error).toMatchObject({ code: "http_status", status: 404, retryable: false, message: `HTTP 404 from ${baseUrl}/users/1` });
    expect(error.details).toEqual({ body: '{"error":"no such user"}' });
    expect(seen).toHaveLength(1);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ ok: false, error: { code: "http_status", status: 404, retryable: false } });
    expect(attempts[0]?.delayMs).toBeUndefined();
  });

  it("keeps only the first 2 KB of a failed response's body", async () => {
    handler = (_request, response) => {
      response.writeHead(500);
      response.end("e".repeat(10_000));
    };
    const { ctx } = context();

    const error = await failure(dispatchHttp(httpLoop({}, { maxAttempts: 1 }), {}, ctx));

    expect(error.details).toEqual({ body: "e".repeat(2048) });
  });

  it("times out a server that never answers, once per attempt", async () => {
    handler = () => undefined;
    const { ctx, attempts } = context();

    const error = await failure(dispatchHttp(httpLoop({ timeoutMs: 100 }, { maxAttempts: 2 }), {}, ctx));

    expect(error).toMatchObject({ code: "http_timeout", retryable: true });
    expect(seen).toHaveLength(2);
    expect(attempts).toHaveLength(2);
    expect(attempts.map((attempt) => attempt.error?.code)).toEqual(["http_timeout", "http_timeout"]);
  });

  it("stops at once when the frame is cancelled mid-request", async () => {
    const controller = new AbortController();
    handler = () => undefined;
    onRequest = () => controller.abort();
    const { ctx, attempts } = context({ signal: controller.signal });

    const error = await failure(dispatchHttp(httpLoop({ timeoutMs: 10_000 }, { maxAttempts: 3 }), {}, ctx));
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(error.code).toBe("cancelled");
    expect(error.retryable).toBe(false);
    expect(seen).toHaveLength(1);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ ok: false, error: { code: "cancelled" } });
  });

  it("reports the frame's deadline as the signal's reason", async () => {
    const controller = new AbortController();
    handler = () => undefined;
    onRequest = () => controller.abort(new DispatchError("deadline_exceeded", "The frame exceeded its 50 ms budget"));
    const { ctx } = context({ signal: controller.signal });

    const error = await failure(dispatchHttp(httpLoop({ timeoutMs: 10_000 }), {}, ctx));

    expect(error.code).toBe("deadline_exceeded");
    expect(seen).toHaveLength(1);
  });

  it("retries a refused connection", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { ctx, attempts } = context();

    const error = await failure(dispatchHttp(httpLoop({ url: `http://127.0.0.1:${port}/x?key=abc` }, { maxAttempts: 2 }), {}, ctx));

    expect(error).toMatchObject({ code: "http_connection_error", retryable: true });
    expect(error.message).toContain(`http://127.0.0.1:${port}/x`);
    expect(error.message).not.toContain("key=abc");
    expect(attempts).toHaveLength(2);
  });
});

describe("dispatchHttp: compressed responses", () => {
  it("decodes an empty gzip body to nothing, and keeps a failed status retryable whatever its body", async () => {
    let calls = 0;
    handler = (_request, response) => {
      calls++;
      response.writeHead(calls === 1 ? 503 : 200, { "content-type": "application/json", "content-encoding": "gzip" });
      response.end();
    };
    const { ctx, attempts } = context();
    expect(await dispatchHttp(httpLoop({}), {}, ctx)).toEqual({ output: null });
    expect(attempts.map((a) => a.ok)).toEqual([false, true]);
    expect(attempts[0]?.error).toMatchObject({ code: "http_status", status: 503 });
  });

  it("fails without retrying on a body that does not decode, and on more than 5 codings", async () => {
    for (const [encoding, body] of [
      ["br", Buffer.from("not brotli at all")],
      ["gzip, gzip, gzip, gzip, gzip, gzip", gzipSync(gzipSync(gzipSync(gzipSync(gzipSync(gzipSync("{}"))))))],
    ] as const) {
      handler = (_request, response) => {
        response.writeHead(200, { "content-type": "application/json", "content-encoding": encoding });
        response.end(body);
      };
      const { ctx, attempts } = context();
      const error = await failure(dispatchHttp(httpLoop({}), {}, ctx));
      expect(error).toMatchObject({ code: "invalid_response", retryable: false });
      expect(error.message).toContain("could not be decoded");
      expect(attempts).toHaveLength(1);
    }
  });
});

describe("dispatchHttp: a server that does not speak HTTP", () => {
  it("is a connection error, retried", async () => {
    const sockets = new Set<Socket>();
    const garbage = createNetServer((socket) => {
      sockets.add(socket);
      socket.once("data", () => socket.end("HELLO THERE\r\n\r\n"));
    });
    await new Promise<void>((resolve) => garbage.listen(0, "127.0.0.1", resolve));
    try {
      const { ctx, attempts } = context();
      const error = await failure(dispatchHttp(httpLoop({ url: `http://127.0.0.1:${(garbage.address() as AddressInfo).port}/` }, { maxAttempts: 2 }), {}, ctx));
      expect(error).toMatchObject({ code: "http_connection_error", retryable: true });
      expect(error.message).toMatch(/^Could not reach http:\/\/127\.0\.0\.1:\d+\//);
      expect(attempts).toHaveLength(2);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => garbage.close(resolve));
    }
  });
});

describe("dispatchHttp: the response", () => {
  it("is a connection error, retried, when the connection drops in the middle of the body", async () => {
    let calls = 0;
    handler = (_request, response) => {
      calls++;
      if (calls === 1) {
        response.writeHead(200, { "content-type": "application/json", "content-length": "100" });
        response.write('{"partial": ');
        setTimeout(() => response.socket?.destroy(), 5);
        return;
      }
      json(response, 200, { whole: true });
    };
    const { ctx, attempts } = context();

    const outcome = await dispatchHttp(httpLoop({}), {}, ctx);

    expect(outcome).toEqual({ output: { whole: true } });
    expect(attempts).toMatchObject([{ attempt: 1, ok: false, error: { code: "http_connection_error" } }, { attempt: 2, ok: true }]);
  });

  it("decodes a compressed body sent whole but cut short to what it holds, as fetch does, and does not retry it", async () => {
    const short = gzipSync(JSON.stringify({ text: "x".repeat(5000) })).subarray(0, 40);
    handler = (_request, response) => {
      response.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip", "content-length": String(short.length) });
      response.end(short);
    };
    const { ctx, attempts } = context();

    const error = await failure(dispatchHttp(httpLoop({}, { maxAttempts: 2 }), {}, ctx));

    expect(error).toMatchObject({ code: "invalid_response", retryable: false });
    expect(error.message).toContain("is not valid JSON");
    expect(attempts).toHaveLength(1);
  });

  it("retries a compressed body cut off by the connection, as a plain one", async () => {
    const whole = gzipSync(JSON.stringify({ text: "x".repeat(5000) }));
    handler = (_request, response) => {
      response.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip", "content-length": String(whole.length) });
      response.write(whole.subarray(0, 40));
      setTimeout(() => response.socket?.destroy(), 5);
    };
    const { ctx, attempts } = context();

    const error = await failure(dispatchHttp(httpLoop({}, { maxAttempts: 2 }), {}, ctx));

    // The decoders see the connection's error, not an end of input: the body is not undecodable.
    expect(error).toMatchObject({ code: "http_connection_error", retryable: true });
    expect(attempts).toHaveLength(2);
  });

  it("fails on invalid JSON without retrying", async () => {
    handler = (_request, response) => response.end("{not json");
    const { ctx, attempts } = context();

    const error = await failure(dispatchHttp(httpLoop({}), {}, ctx));

    expect(error).toMatchObject({ code: "invalid_response", retryable: false });
    expect(attempts).toHaveLength(1);
  });

  it("returns the picked nested value", async () => {
    handler = (_request, response) => json(response, 200, { data: { items: [{ name: "a" }, { name: "b", score: 0.5 }] } });
    const { ctx } = context();

    const outcome = await dispatchHttp(httpLoop({ response: { type: "json", pick: "data.items[1]" } }), {}, ctx);

    expect(outcome.output).toEqual({ name: "b", score: 0.5 });
  });

  it("fails naming the path when the pick finds nothing", async () => {
    handler = (_request, response) => json(response, 200, { data: {} });
    const { ctx } = context();

    const error = await failure(dispatchHttp(httpLoop({ response: { type: "json", pick: "data.items[0].name" } }), {}, ctx));

    expect(error.code).toBe("invalid_response");
    expect(error.message).toContain('"data.items[0].name"');
  });

  it("returns text as it came", async () => {
    handler = (_request, response) => response.end("plain words");
    const { ctx } = context();
    expect((await dispatchHttp(httpLoop({ response: { type: "text" } }), {}, ctx)).output).toBe("plain words");
  });

  it("returns null for an empty JSON response", async () => {
    handler = (_request, response) => {
      response.writeHead(204);
      response.end();
    };
    const { ctx } = context();
    expect((await dispatchHttp(httpLoop({ method: "DELETE" }), {}, ctx)).output).toBeNull();
  });

  it.each([
    ["streamed without a length", false],
    ["with a declared length", true],
  ])("refuses a response over the size limit %s", async (_name, declaresLength) => {
    const payload = JSON.stringify({ blob: "x".repeat(5000) });
    handler = (_request, response) => {
      response.writeHead(200, declaresLength ? { "content-length": String(Buffer.byteLength(payload)) } : {});
      response.write(payload.slice(0, 2000));
      setTimeout(() => response.end(payload.slice(2000)), 10);
    };
    const { ctx, attempts } = context();

    const error = await failure(dispatchHttp(httpLoop({}), {}, ctx, { maxResponseBytes: 1024 }));

    expect(error).toMatchObject({ code: "response_too_large", retryable: false });
    expect(attempts).toHaveLength(1);
  });

  it("accepts a response exactly at the size limit", async () => {
    const payload = JSON.stringify("y".repeat(1022));
    handler = (_request, response) => response.end(payload);
    const { ctx } = context();

    const outcome = await dispatchHttp(httpLoop({}), {}, ctx, { maxResponseBytes: 1024 });

    expect(outcome.output).toBe("y".repeat(1022));
  });
});

describe("dispatchHttp through a proxy", () => {
  /** A forward proxy: plain HTTP requests in absolute form are relayed and recorded; CONNECT tunnels are recorded and refused. */
  async function startProxy() {
    const relayed: { url: string; authorization: string | undefined }[] = [];
    const tunnels: string[] = [];
    const proxy = createServer((request, response) => {
      relayed.push({ url: request.url ?? "", authorization: request.headers["proxy-authorization"] });
      const target = new URL(request.url ?? "");
      const headers = { ...request.headers };
      delete headers["proxy-authorization"];
      const upstream = httpRequest(target, { method: request.method, headers }, (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      });
      upstream.on("error", () => response.writeHead(502).end());
      request.pipe(upstream);
    });
    proxy.on("connect", (request: IncomingMessage, socket: Socket) => {
      tunnels.push(request.url ?? "");
      socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    return {
      url,
      relayed,
      tunnels,
      close: async () => {
        proxy.closeAllConnections();
        await new Promise((resolve) => proxy.close(resolve));
      },
    };
  }

  it("reads HTTP_PROXY, HTTPS_PROXY and NO_PROXY in either case, and nothing when no proxy is named", () => {
    expect(proxySettingsFrom({ HTTP_PROXY: "http://proxy:3128", no_proxy: "internal" })).toEqual({ httpProxy: "http://proxy:3128", httpsProxy: undefined, noProxy: "internal" });
    expect(proxySettingsFrom({ https_proxy: "http://a:1", HTTPS_PROXY: "http://b:2" })).toMatchObject({ httpsProxy: "http://a:1" });
    expect(proxySettingsFrom({ NO_PROXY: "internal" })).toBeNull();
    expect(proxySettingsFrom({})).toBeNull();
  });

  it("sends plain HTTP through the proxy with its credentials, HTTPS through a CONNECT tunnel, and hosts in NO_PROXY directly", async () => {
    const proxy = await startProxy();
    const dispatcher = createHttpDispatcher({ httpProxy: `http://relay:pa55@${proxy.url.slice("http://".length)}`, noProxy: "direct.invalid" });
    try {
      handler = (_request, response) => json(response, 200, { via: "upstream" });
      const { ctx } = context({ http: createHttpClient({ dispatcher }) });
      expect(await dispatchHttp(httpLoop({ url: `${baseUrl}/through?q={{input.q}}` }), { q: "a b" }, ctx)).toEqual({ output: { via: "upstream" } });
      expect(proxy.relayed).toEqual([{ url: `${baseUrl}/through?q=a%20b`, authorization: `Basic ${Buffer.from("relay:pa55").toString("base64")}` }]);
      expect(seen.map((r) => r.url)).toEqual(["/through?q=a%20b"]);

      // HTTPS goes through a tunnel, which this proxy refuses: the loop fails without retrying a refusal as if the host were down.
      const refused = await failure(dispatchHttp(httpLoop({ url: "https://secure.invalid/" }, { maxAttempts: 1 }), {}, ctx));
      expect(proxy.tunnels).toEqual(["secure.invalid:443"]);
      expect(refused).toMatchObject({ code: "http_proxy_error", status: 403, retryable: false });
      expect(refused.message).toBe("The proxy refused the tunnel to https://secure.invalid/ (HTTP 403)");

      // A host in NO_PROXY is reached directly: this one does not resolve, so the proxy never hears of it.
      const direct = await failure(dispatchHttp(httpLoop({ url: "http://direct.invalid/" }, { maxAttempts: 1 }), {}, ctx));
      expect(direct.code).toBe("http_connection_error");
      expect(proxy.relayed).toHaveLength(1);
    } finally {
      await dispatcher.close();
      await proxy.close();
    }
  });
});

describe("dispatchHttp: addresses HTTP loops may not reach", () => {
  const blockedClient = (list: string) => createHttpClient({ blockedAddresses: parseAddressList(list) });

  it("refuses cloud metadata by default, without sending anything", async () => {
    const { ctx, attempts } = context();
    const error = await failure(dispatchHttp(httpLoop({ url: "http://169.254.169.254/latest/meta-data/" }), {}, ctx));
    expect(error).toMatchObject({ code: "http_address_blocked", retryable: false });
    expect(error.message).toBe("http://169.254.169.254/latest/meta-data/ was not requested: 169.254.169.254 is an address loops may not reach (LOOPSTACKS_HTTP_BLOCKED_ADDRESSES)");
    expect(attempts).toHaveLength(1);
  });

  it("refuses a blocked address in the URL, a name that resolves to one, and a redirect to one", async () => {
    const { ctx } = context({ http: blockedClient("127.0.0.1, ::1") });
    const port = (server.address() as AddressInfo).port;
    const literal = await failure(dispatchHttp(httpLoop({ url: `${baseUrl}/direct` }, { maxAttempts: 1 }), {}, ctx));
    expect(literal.code).toBe("http_address_blocked");
    const named = await failure(dispatchHttp(httpLoop({ url: `http://localhost:${port}/named` }, { maxAttempts: 1 }), {}, ctx));
    expect(named.code).toBe("http_address_blocked");
    expect(named.message).toMatch(/^http:\/\/localhost:\d+\/named was not requested: localhost \((127\.0\.0\.1|::1)\) is an address/);
    expect(seen).toHaveLength(0);

    // Another loopback address is allowed, and redirects to the blocked one.
    const other = createServer((_request, response) => response.writeHead(302, { location: `${baseUrl}/redirected` }).end());
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.2", resolve));
    try {
      const otherUrl = `http://127.0.0.2:${(other.address() as AddressInfo).port}`;
      const redirected = await failure(dispatchHttp(httpLoop({ url: `${otherUrl}/start` }, { maxAttempts: 1 }), {}, ctx));
      expect(redirected.code).toBe("http_address_blocked");
      expect(seen).toHaveLength(0);
    } finally {
      other.closeAllConnections();
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it("reaches the same server when its address is not blocked", async () => {
    handler = (_request, response) => json(response, 200, { ok: true });
    const { ctx } = context({ http: blockedClient("10.0.0.0/8") });
    const port = (server.address() as AddressInfo).port;
    expect(await dispatchHttp(httpLoop({ url: `http://localhost:${port}/named` }), {}, ctx)).toEqual({ output: { ok: true } });
  });
});
