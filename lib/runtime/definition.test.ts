import { describe, expect, it } from "vitest";
import { isAppError } from "../errors";
import { parseLoopDefinition } from "./definition";

describe("parseLoopDefinition", () => {
  it("fills defaults for the pitch's example", () => {
    const d = parseLoopDefinition({
      id: "patient-risk-classifier",
      type: "llm",
      realm: "cardiology",
      llm: { model: "claude-sonnet-4", systemPrompt: "Classify cardiac risk.", tools: [{ name: "search_prior_cases", loopRef: "case-retrieval-loop" }] },
    });
    expect(d.type).toBe("llm");
    if (d.type !== "llm") return;
    expect(d.llm).toMatchObject({ maxTokens: 1024, maxTurns: 8 });
    expect(d.retry).toEqual({ maxAttempts: 3, initialDelayMs: 200, maxDelayMs: 5_000, multiplier: 2 });
    expect(d.limits).toEqual({ timeoutMs: 120_000, maxDepth: 8 });
  });

  it("refuses text no database can store (U+0000) wherever it is, with its path, beside the other problems", () => {
    const error = (() => {
      try {
        parseLoopDefinition({
          id: "nul",
          type: "llm",
          realm: "clinic",
          inputSchema: { type: "object", properties: { "q\u0000": { type: "string", description: "a\u0000" } } },
          llm: { model: "", systemPrompt: "before\u0000after" },
        });
      } catch (caught) {
        return caught;
      }
    })();
    expect(isAppError(error, "invalid_definition")).toBe(true);
    expect((error as { issues: unknown[] }).issues).toEqual(
      expect.arrayContaining([
        { path: "llm.model", message: expect.any(String) as string },
        { path: "llm.systemPrompt", message: "must not contain the NUL character (U+0000)" },
        { path: "inputSchema.properties.q\u0000", message: "key must not contain the NUL character (U+0000)" },
        { path: "inputSchema.properties.q\u0000.description", message: "must not contain the NUL character (U+0000)" },
      ]),
    );
  });

  it("reports every problem at once with its path", () => {
    try {
      parseLoopDefinition({
        id: "ok",
        type: "http",
        realm: "Bad Realm",
        retry: { maxAttempts: 0 },
        http: { method: "FETCH", url: "", headers: { Authorization: { secret: "" } }, extra: true },
      });
      expect.unreachable();
    } catch (error) {
      expect(isAppError(error, "invalid_definition")).toBe(true);
      const paths = (error as { issues: { path: string }[] }).issues.map((i) => i.path).sort();
      expect(paths).toEqual(["http", "http.headers.Authorization.secret", "http.method", "http.url", "realm", "retry.maxAttempts"].sort());
    }
  });

  it("rejects an unknown type and duplicate tool names", () => {
    expect(() => parseLoopDefinition({ id: "x", type: "grpc", realm: "r" })).toThrow(/type/);
    expect(() =>
      parseLoopDefinition({ id: "x", type: "llm", realm: "r", llm: { model: "m", tools: [{ name: "t", loopRef: "a" }, { name: "t", loopRef: "b" }] } }),
    ).toThrow(/llm.tools\[1\].name: duplicate tool name "t"/);
  });

  it("refuses HTTP headers that could never be sent, naming each", () => {
    try {
      parseLoopDefinition({
        id: "h",
        type: "http",
        realm: "r",
        http: { url: "https://x.test/", headers: { "Bad Name": "x", "Transfer-Encoding": "chunked", "X-Note": "a\u0001b", "X-Templated": "{{input.note}}", "X-Zoe": "Zoë" } },
      });
      expect.unreachable();
    } catch (error) {
      expect(isAppError(error, "invalid_definition")).toBe(true);
      const issues = (error as { issues: { path: string; message: string }[] }).issues;
      expect(issues.map((i) => i.path).sort()).toEqual(["http.headers.Bad Name", "http.headers.Transfer-Encoding", "http.headers.X-Note"]);
      expect(issues.find((i) => i.path === "http.headers.Transfer-Encoding")?.message).toMatch(/set by the HTTP client/);
    }
  });

  it("refuses a URL template whose placeholder could choose the server, at the URL's path", () => {
    const error = (() => {
      try {
        parseLoopDefinition({ id: "h", type: "http", realm: "r", http: { url: "https://api.example.com{{input.suffix}}/v1", headers: { "x-api-key": { secret: "PARTNER_KEY" } } } });
      } catch (caught) {
        return caught;
      }
      return null;
    })();
    expect(isAppError(error, "invalid_definition")).toBe(true);
    expect((error as { issues: { path: string; message: string }[] }).issues).toEqual([
      { path: "http.url", message: expect.stringContaining("placeholders may only be in the path, query or fragment") },
    ]);
  });

  it("keeps secret references as references", () => {
    const d = parseLoopDefinition({ id: "h", type: "http", realm: "r", http: { url: "https://x.test/{{input.id}}", headers: { "x-api-key": { secret: "PARTNER_KEY" } } } });
    expect(d.type === "http" && d.http.headers["x-api-key"]).toEqual({ secret: "PARTNER_KEY" });
  });
});
