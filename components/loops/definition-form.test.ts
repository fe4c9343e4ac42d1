import { describe, expect, it } from "vitest";
import { loopDefinitionSchema } from "@/lib/runtime/definition";
import { buildDefinition, emptyToolRow, formValuesFromDefinition, numberOrText, type DefinitionFormValues } from "./definition-form";

function blank(overrides: Partial<DefinitionFormValues> = {}): DefinitionFormValues {
  return { ...formValuesFromDefinition(undefined, "support"), id: "triage", ...overrides };
}

describe("numberOrText", () => {
  it("parses numbers, leaves empty fields out and keeps other text for the server to name", () => {
    expect(numberOrText(" 512 ")).toBe(512);
    expect(numberOrText("0.2")).toBe(0.2);
    expect(numberOrText("")).toBeUndefined();
    expect(numberOrText("lots")).toBe("lots");
  });
});

describe("buildDefinition", () => {
  it("builds a valid LLM loop with loop tools, leaving empty numbers to their defaults", () => {
    const values = blank();
    values.description = "Routes a request";
    values.llm = {
      model: "claude-sonnet-4-5",
      systemPrompt: "Route it.",
      maxTokens: "2048",
      temperature: "",
      maxTurns: "4",
      tools: [{ name: "lookup", loopRef: "lookup-order", description: "Finds an order" }, emptyToolRow()],
    };
    const definition = buildDefinition(values);
    expect(definition).toEqual({
      id: "triage",
      realm: "support",
      type: "llm",
      description: "Routes a request",
      llm: {
        model: "claude-sonnet-4-5",
        systemPrompt: "Route it.",
        maxTokens: 2048,
        maxTurns: 4,
        tools: [{ name: "lookup", description: "Finds an order", loopRef: "lookup-order" }],
      },
    });
    expect(loopDefinitionSchema.safeParse(definition).success).toBe(true);
  });

  it("builds a stdio MCP loop with one argument per line", () => {
    const values = blank({ type: "mcp" });
    values.mcp = { transport: "stdio", command: "node", args: "server.js\n\n --port=0 ", url: "", tool: "search" };
    const definition = buildDefinition(values);
    expect(definition.mcp).toEqual({ server: { transport: "stdio", command: "node", args: ["server.js", "--port=0"] }, tool: "search" });
    expect(loopDefinitionSchema.safeParse(definition).success).toBe(true);
  });

  it("builds an HTTP MCP loop and an HTTP loop", () => {
    const mcp = blank({ type: "mcp" });
    mcp.mcp = { transport: "http", command: "", args: "", url: "http://mcp.internal/mcp", tool: "search" };
    expect(buildDefinition(mcp).mcp).toEqual({ server: { transport: "http", url: "http://mcp.internal/mcp" }, tool: "search" });

    const http = blank({ type: "http" });
    http.http = { method: "GET", url: "https://api.example.com/orders/{{input.id}}", timeoutMs: "5000" };
    const definition = buildDefinition(http);
    expect(definition.http).toEqual({ method: "GET", url: "https://api.example.com/orders/{{input.id}}", timeoutMs: 5000 });
    expect(loopDefinitionSchema.safeParse(definition).success).toBe(true);
  });

  it("sends numbers that do not parse as text, so the server reports them at their path", () => {
    const values = blank();
    values.llm.model = "m";
    values.llm.maxTokens = "many";
    const parsed = loopDefinitionSchema.safeParse(buildDefinition(values));
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((issue) => issue.path.join("."))).toEqual(["llm.maxTokens"]);
  });

  it("keeps what the form does not show when editing a definition", () => {
    const existing = {
      id: "triage",
      realm: "support",
      type: "llm",
      description: "",
      inputSchema: { type: "object" },
      retry: { maxAttempts: 2 },
      llm: {
        model: "old",
        systemPrompt: "Old.",
        maxTokens: 1024,
        requestTimeoutMs: 9000,
        tools: [
          { name: "lookup", loopRef: "lookup-order" },
          { name: "search", mcp: { server: { transport: "http", url: "http://mcp" }, tool: "search" } },
        ],
      },
    };
    const values = formValuesFromDefinition(existing, "other");
    expect(values.llm.tools).toEqual([{ name: "lookup", loopRef: "lookup-order", description: "" }]);
    values.llm.model = "new";
    values.llm.maxTokens = "";
    values.llm.tools.push({ name: "refund", loopRef: "issue-refund", description: "" });
    const definition = buildDefinition(values, existing);
    expect(definition.inputSchema).toEqual({ type: "object" });
    expect(definition.retry).toEqual({ maxAttempts: 2 });
    expect(definition.llm).toEqual({
      model: "new",
      systemPrompt: "Old.",
      requestTimeoutMs: 9000,
      tools: [
        { name: "lookup", loopRef: "lookup-order" },
        { name: "refund", loopRef: "issue-refund" },
        { name: "search", mcp: { server: { transport: "http", url: "http://mcp" }, tool: "search" } },
      ],
    });
  });

  it("drops the old type's block and transport settings when they change", () => {
    const existing = {
      id: "fetcher",
      realm: "support",
      type: "mcp",
      mcp: { server: { transport: "stdio", command: "node", args: ["a.js"], env: { TOKEN: { secret: "t" } } }, tool: "get", timeoutMs: 1000 },
    };
    const toHttp = formValuesFromDefinition(existing, "support");
    toHttp.mcp = { ...toHttp.mcp, transport: "http", url: "http://mcp" };
    expect(buildDefinition(toHttp, existing).mcp).toEqual({ server: { transport: "http", url: "http://mcp" }, tool: "get", timeoutMs: 1000 });

    const sameTransport = formValuesFromDefinition(existing, "support");
    expect(sameTransport.mcp.args).toBe("a.js");
    expect(buildDefinition(sameTransport, existing).mcp).toEqual(existing.mcp);

    const toLlm = formValuesFromDefinition(existing, "support");
    toLlm.type = "llm";
    toLlm.llm.model = "m";
    const definition = buildDefinition(toLlm, existing);
    expect(definition.mcp).toBeUndefined();
    expect(definition.llm).toEqual({ model: "m", systemPrompt: "", tools: [] });
  });
});

describe("formValuesFromDefinition", () => {
  it("starts blank in the given realm and reads numbers back as text", () => {
    expect(formValuesFromDefinition(undefined, "support")).toMatchObject({ id: "", realm: "support", type: "llm", http: { method: "POST" } });
    expect(formValuesFromDefinition({ type: "http", realm: "ops", http: { method: "GET", url: "u", timeoutMs: 500 } }, "support")).toMatchObject({
      realm: "ops",
      type: "http",
      http: { method: "GET", url: "u", timeoutMs: "500" },
    });
  });
});
