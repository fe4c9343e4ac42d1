import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Db } from "../../db/client";
import { addRealmMapping, ensureRealm } from "../../db/queries/realms";
import { DEMO_USERS, devGroupDn } from "../auth/dev-directory";
import type { LoopDefinitionInput } from "../runtime/definition";
import type { Registry } from "../runtime/registry";

export const DEMO_REALM = "demo";

/** The entry file of `@modelcontextprotocol/server-everything`, spawned with this Node binary. */
export function everythingServerEntry(): string {
  // Resolved at run time from this file; the bundler must not rewrite it into a module id.
  const require = createRequire(/* turbopackIgnore: true */ import.meta.url);
  const pkgPath = require.resolve("@modelcontextprotocol/server-everything/package.json");
  const pkg = require(pkgPath) as { bin?: string | Record<string, string>; main?: string };
  const bin = typeof pkg.bin === "string" ? pkg.bin : Object.values(pkg.bin ?? {})[0];
  return join(dirname(pkgPath), bin ?? pkg.main ?? "dist/index.js");
}

/** Demo loops: an LLM loop that calls a child LLM loop, an MCP loop and an HTTP loop. */
export function demoLoops(options: { consoleUrl: string }): LoopDefinitionInput[] {
  return [
    {
      id: "demo-case-lookup",
      type: "llm",
      realm: DEMO_REALM,
      description: "Finds prior cases similar to a query (child LLM loop).",
      inputSchema: { type: "object", properties: { query: { type: "string" } }, required: ["query"] },
      llm: { model: "claude-sonnet-4-6", systemPrompt: "You search prior cases and summarise the three closest.", maxTokens: 512 },
    },
    {
      id: "demo-echo",
      type: "mcp",
      realm: DEMO_REALM,
      description: "Echoes a message through the MCP reference server (server-everything, stdio).",
      inputSchema: { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
      mcp: { server: { transport: "stdio", command: process.execPath, args: [everythingServerEntry(), "stdio"] }, tool: "echo" },
    },
    {
      id: "demo-health-check",
      type: "http",
      realm: DEMO_REALM,
      description: "Calls the console's own health endpoint (HTTP loop).",
      http: { method: "GET", url: `${options.consoleUrl}/api/health`, timeoutMs: 5_000, response: { type: "json" } },
    },
    {
      id: "demo-triage",
      type: "llm",
      realm: DEMO_REALM,
      description: "Triages a request: looks up prior cases, echoes a note, checks service health.",
      llm: {
        model: "claude-sonnet-4-6",
        systemPrompt: "You triage requests. Look up prior cases, echo a note for the record, check service health, then answer.",
        tools: [
          { name: "lookup_cases", description: "Find prior cases similar to a query", loopRef: "demo-case-lookup" },
          { name: "echo_note", description: "Record a note through the echo service", loopRef: "demo-echo" },
          { name: "check_health", description: "Check the service's health", loopRef: "demo-health-check" },
        ],
      },
    },
  ];
}

/** Seeds the demo realm, its role mappings for the development directory, and the demo loops. */
export async function seedDemo(db: Db, registry: Registry, options: { consoleUrl: string }): Promise<void> {
  await ensureRealm(db, { id: DEMO_REALM, name: "Demo", description: "Demo loops that run on the scripted model" });
  for (const user of DEMO_USERS) {
    await addRealmMapping(db, { realmId: DEMO_REALM, groupDn: devGroupDn(user.group), role: user.role, createdBy: "seed" });
  }
  await registry.registerMany(demoLoops(options), { actor: "seed" });
}
