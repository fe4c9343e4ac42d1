import { z } from "zod";
import { loopDefinitionSchema } from "@/lib/runtime/definition";
import { FRAME_STATUSES, ROLES } from "@/lib/runtime/types";
import { invokeLoopSchema } from "@/lib/services/invoke-loop";
import { addScoreSchema } from "@/lib/services/prompts/add-score";
import { MAX_BODY_BYTES } from "./api";

type JsonSchema = Record<string, unknown>;

/** Request bodies come from the same zod schemas the services validate with, so they cannot drift. */
function fromZod(schema: z.ZodType, omit: string[] = []): JsonSchema {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any", target: "draft-2020-12" }) as JsonSchema;
  const properties = json.properties as Record<string, unknown> | undefined;
  for (const key of omit) delete properties?.[key];
  return json;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonContent = (schema: unknown) => ({ "application/json": { schema } });

const errorResponses = (...statuses: number[]) => {
  const descriptions: Record<number, string> = {
    400: "Malformed request (not JSON, wrong content type)",
    401: "Missing, unknown, expired or revoked token",
    403: "The token's role does not allow this in the realm",
    404: "Not found, or in a realm the token cannot see",
    409: "Conflict",
    413: `Body larger than ${MAX_BODY_BYTES} bytes, or run input larger than the limit`,
    422: "Invalid input; `issues` names each problem by path",
  };
  return Object.fromEntries(statuses.map((status) => [String(status), { description: descriptions[status], content: jsonContent(ref("Error")) }]));
};

/** The OpenAPI 3.1 document for REST API v1, served at /api/v1/openapi.json. */
export function openApiDocument(): JsonSchema {
  const frame = {
    type: "object",
    description: "A node of the Loop Stack Tree: one loop invocation. `children` are its child frames.",
    properties: {
      id: { type: "string", format: "uuid" },
      runId: { type: "string", format: "uuid" },
      parentFrameId: { type: ["string", "null"] },
      parentToolCallId: { type: ["string", "null"] },
      depth: { type: "integer" },
      loop: { type: "object", properties: { id: { type: "string" }, revision: { type: "integer" }, type: { enum: ["llm", "mcp", "http"] }, realm: { type: "string" } } },
      prompt: { type: ["object", "null"], properties: { version: { type: "integer" }, reason: { type: "string" } } },
      status: { enum: [...FRAME_STATUSES] },
      attempts: { type: "array", items: { type: "object" } },
      input: {},
      output: {},
      error: { type: ["object", "null"] },
      model: { type: ["string", "null"] },
      usage: { type: "object", properties: { inputTokens: { type: "integer" }, outputTokens: { type: "integer" } } },
      turns: { type: "integer" },
      toolCalls: { type: "array", items: { type: "object" } },
      identity: { type: "object", description: "The caller the frame ran for (children run with the original caller's identity)" },
      authorization: { type: "object", description: "The server's decision before dispatch: allowed, realm, role, via, reason, checkedAt" },
      createdAt: { type: "string", format: "date-time" },
      startedAt: { type: ["string", "null"], format: "date-time" },
      endedAt: { type: ["string", "null"], format: "date-time" },
      durationMs: { type: ["number", "null"] },
      children: { type: "array", items: ref("Frame") },
    },
  };

  return {
    openapi: "3.1.0",
    info: {
      title: "LoopStacks REST API",
      version: "1.0.0",
      description:
        "Register and list loops, start runs, read runs with their trace, post scores. Authenticate with a service token " +
        "(`Authorization: Bearer lst_…`), created by a realm admin in the console under Admin → Service tokens. A token holds one role in one realm; " +
        "anything outside that realm answers 404. Errors are `{ error: { code, message, issues? } }`; a method a path does not take " +
        "answers 405 (`method_not_allowed`) with an `Allow` header, and a path with no route answers 404.",
    },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "A service token, `lst_` followed by 43 characters" } },
      schemas: {
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              required: ["code", "message"],
              properties: {
                code: { type: "string", examples: ["not_found", "forbidden", "invalid_input", "unauthenticated", "payload_too_large"] },
                message: { type: "string" },
                issues: { type: "array", items: { type: "object", properties: { path: { type: "string" }, message: { type: "string" } } } },
              },
            },
          },
        },
        LoopDefinition: fromZod(loopDefinitionSchema),
        LoopSummary: {
          type: "object",
          properties: {
            id: { type: "string" },
            realm: { type: "string" },
            type: { enum: ["llm", "mcp", "http"] },
            description: { type: "string" },
            revision: { type: "integer" },
            activePromptVersion: { type: ["integer", "null"] },
            updatedAt: { type: "string", format: "date-time" },
            canRun: { type: "boolean" },
          },
        },
        RegisterLoopResult: {
          type: "object",
          properties: { loopId: { type: "string" }, revision: { type: "integer" }, changed: { type: "boolean" }, promptVersion: { type: ["integer", "null"] } },
        },
        StartRunRequest: fromZod(invokeLoopSchema),
        RunAccepted: {
          type: "object",
          properties: { done: { const: false }, runId: { type: "string", format: "uuid" }, loopId: { type: "string" }, status: { type: "string" }, links: { type: "object" } },
        },
        RunResult: {
          type: "object",
          properties: {
            done: { const: true },
            runId: { type: "string", format: "uuid" },
            loopId: { type: "string" },
            status: { enum: [...FRAME_STATUSES] },
            output: {},
            error: { type: ["object", "null"] },
            trace: { anyOf: [ref("Frame"), { type: "null" }] },
          },
        },
        RunDetail: {
          type: "object",
          properties: { run: { type: "object", description: "Status, timings, totals, input, output, error and the caller's identity" }, trace: { anyOf: [ref("Frame"), { type: "null" }] } },
        },
        Frame: frame,
        ScoreRequest: fromZod(addScoreSchema, ["source"]),
        Score: {
          type: "object",
          properties: {
            id: { type: "string", format: "uuid" },
            frameId: { type: "string", format: "uuid" },
            runId: { type: "string", format: "uuid" },
            realmId: { type: "string" },
            loopId: { type: "string" },
            promptVersion: { type: ["integer", "null"] },
            name: { type: "string" },
            value: { type: ["number", "null"] },
            label: { type: ["string", "null"] },
            comment: { type: "string" },
            source: { const: "api" },
            author: { type: "string" },
            createdAt: { type: "string", format: "date-time" },
          },
        },
        Role: { enum: [...ROLES] },
      },
    },
    paths: {
      "/api/v1/loops": {
        get: {
          operationId: "listLoops",
          summary: "List the loops of the token's realm",
          parameters: [
            { name: "search", in: "query", schema: { type: "string" } },
            { name: "realm", in: "query", schema: { type: "string" } },
            { name: "type", in: "query", schema: { enum: ["llm", "mcp", "http"] } },
          ],
          responses: { "200": { description: "Loops", content: jsonContent({ type: "object", properties: { loops: { type: "array", items: ref("LoopSummary") } } }) }, ...errorResponses(401) },
        },
        post: {
          operationId: "registerLoop",
          summary: "Register a loop or a new revision of it (maintainer or admin)",
          requestBody: { required: true, content: jsonContent(ref("LoopDefinition")) },
          responses: {
            "201": { description: "Created (revision 1)", content: jsonContent(ref("RegisterLoopResult")) },
            "200": { description: "A new revision, or unchanged", content: jsonContent(ref("RegisterLoopResult")) },
            ...errorResponses(400, 401, 403, 409, 413, 422),
          },
        },
      },
      "/api/v1/runs": {
        post: {
          operationId: "startRun",
          summary: "Start a run (operator, maintainer or admin); wait for it with `wait: true`",
          requestBody: { required: true, content: jsonContent(ref("StartRunRequest")) },
          responses: {
            "200": { description: "The run ended (wait: true)", content: jsonContent(ref("RunResult")) },
            "202": { description: "Started; poll the run", headers: { Location: { schema: { type: "string" } } }, content: jsonContent(ref("RunAccepted")) },
            ...errorResponses(400, 401, 403, 404, 413, 422),
          },
        },
      },
      "/api/v1/runs/{id}": {
        get: {
          operationId: "getRun",
          summary: "A run and its trace (audited as trace.viewed)",
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "string", format: "uuid" } }],
          responses: { "200": { description: "The run", content: jsonContent(ref("RunDetail")) }, ...errorResponses(401, 404) },
        },
      },
      "/api/v1/runs/{id}/cancel": {
        post: {
          operationId: "cancelRun",
          summary: "Cancel a running run and every running and queued frame under it (operator, maintainer or admin)",
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "string", format: "uuid" } }],
          responses: {
            "202": { description: "Cancelling", content: jsonContent({ type: "object", properties: { runId: { type: "string" }, status: { const: "cancelling" } } }) },
            ...errorResponses(401, 403, 404, 409),
          },
        },
      },
      "/api/v1/scores": {
        post: {
          operationId: "postScore",
          summary: "Score a frame with a value, a label or both (operator, maintainer or admin)",
          requestBody: { required: true, content: jsonContent(ref("ScoreRequest")) },
          responses: { "201": { description: "The score", content: jsonContent(ref("Score")) }, ...errorResponses(400, 401, 403, 404, 413, 422) },
        },
      },
      "/api/v1/exports": {
        post: {
          operationId: "exportBundle",
          summary: "A signed compliance bundle (.tar.gz) of one run, or of a realm's runs created in [from, to) (auditor or admin)",
          requestBody: {
            required: true,
            content: jsonContent({
              oneOf: [
                { type: "object", required: ["kind", "runId"], properties: { kind: { const: "run" }, runId: { type: "string", format: "uuid" } } },
                {
                  type: "object",
                  required: ["kind", "realmId", "from", "to"],
                  properties: { kind: { const: "realm" }, realmId: { type: "string" }, from: { type: "string", format: "date-time" }, to: { type: "string", format: "date-time" } },
                },
              ],
            }),
          },
          responses: {
            "200": { description: "The bundle; verify it with `node verify.mjs` inside it, or with sha256sum and openssl", content: { "application/gzip": { schema: { type: "string", format: "binary" } } } },
            ...errorResponses(400, 401, 403, 404, 413),
          },
        },
      },
      "/api/v1": {
        get: {
          operationId: "index",
          summary: "The API's index: its name, version and where this document is",
          security: [],
          responses: { "200": { description: "The index", content: jsonContent({ type: "object", properties: { name: { type: "string" }, version: { type: "string" }, openapi: { type: "string" } } }) } },
        },
      },
      "/api/v1/openapi.json": {
        get: { operationId: "openApi", summary: "This document", security: [], responses: { "200": { description: "OpenAPI 3.1" } } },
      },
    },
  };
}
