import { describe, expect, it } from "vitest";
import { buildSchemaForm, enumOptionValue, fieldDisplay, fieldToJson, parseInputObject, writeField, type SchemaField } from "./schema-form";

const schema = {
  type: "object",
  required: ["question", "limit"],
  properties: {
    question: { type: "string", title: "Question", description: "What to ask" },
    limit: { type: "integer" },
    temperature: { type: ["number", "null"] },
    verbose: { type: "boolean" },
    tone: { enum: ["short", "long"] },
    level: { const: 2 },
    filters: { type: "object", properties: { tag: { type: "string" } } },
    tags: { type: "array", items: { type: "string" } },
    either: { type: ["string", "number"] },
  },
};

function field(name: string): SchemaField {
  const found = buildSchemaForm(schema)?.fields.find((f) => f.name === name);
  if (!found) throw new Error(`no field ${name}`);
  return found;
}

describe("buildSchemaForm", () => {
  it("makes a field per simple property, marks required ones and leaves the rest to the JSON", () => {
    const form = buildSchemaForm(schema);
    expect(form?.fields).toEqual([
      { kind: "string", name: "question", label: "Question", description: "What to ask", required: true },
      { kind: "integer", name: "limit", label: "limit", required: true },
      { kind: "number", name: "temperature", label: "temperature", required: false },
      { kind: "boolean", name: "verbose", label: "verbose", required: false },
      { kind: "enum", name: "tone", label: "tone", required: false, options: ["short", "long"] },
      { kind: "enum", name: "level", label: "level", required: false, options: [2] },
    ]);
    expect(form?.unsupported).toEqual(["filters", "tags", "either"]);
  });

  it("gives no form for schemas that are not objects with simple properties", () => {
    expect(buildSchemaForm(undefined)).toBeNull();
    expect(buildSchemaForm({ type: "string" })).toBeNull();
    expect(buildSchemaForm({ type: "object" })).toBeNull();
    expect(buildSchemaForm({ type: "object", properties: { items: { type: "array" } } })).toBeNull();
    expect(buildSchemaForm({ type: "object", properties: { mixed: { enum: [{ a: 1 }] } } })).toBeNull();
  });
});

describe("parseInputObject", () => {
  it("accepts a JSON object and nothing else", () => {
    expect(parseInputObject('{"a": 1}')).toEqual({ a: 1 });
    expect(parseInputObject("[1]")).toBeNull();
    expect(parseInputObject("{ not json")).toBeNull();
  });
});

describe("fieldToJson", () => {
  it("keeps an empty required text and removes an empty optional one", () => {
    expect(fieldToJson(field("question"), "")).toBe("");
    expect(fieldToJson({ kind: "string", name: "note", label: "note", required: false }, "")).toBeUndefined();
  });

  it("parses numbers, removes empty ones and keeps what does not parse as typed", () => {
    expect(fieldToJson(field("limit"), " 12 ")).toBe(12);
    expect(fieldToJson(field("temperature"), "0.5")).toBe(0.5);
    expect(fieldToJson(field("limit"), "")).toBeUndefined();
    expect(fieldToJson(field("limit"), "twelve")).toBe("twelve");
  });

  it("reads checkboxes and enum options by their JSON", () => {
    expect(fieldToJson(field("verbose"), true)).toBe(true);
    expect(fieldToJson(field("verbose"), false)).toBe(false);
    expect(fieldToJson(field("tone"), enumOptionValue("long"))).toBe("long");
    expect(fieldToJson(field("level"), "2")).toBe(2);
    expect(fieldToJson(field("tone"), "")).toBeUndefined();
  });
});

describe("fieldDisplay", () => {
  it("shows JSON values in their controls", () => {
    expect(fieldDisplay(field("question"), "Why?")).toBe("Why?");
    expect(fieldDisplay(field("question"), undefined)).toBe("");
    expect(fieldDisplay(field("limit"), 3)).toBe("3");
    expect(fieldDisplay(field("verbose"), true)).toBe(true);
    expect(fieldDisplay(field("verbose"), "yes")).toBe(false);
    expect(fieldDisplay(field("tone"), "short")).toBe('"short"');
    expect(fieldDisplay(field("tone"), "medium")).toBe("");
  });

  it("keeps a number being typed while it means the value in the JSON", () => {
    expect(fieldDisplay(field("temperature"), 1, "1.")).toBe("1.");
    expect(fieldDisplay(field("temperature"), 2.5, "2.50")).toBe("2.50");
    expect(fieldDisplay(field("temperature"), 3, "1.")).toBe("3");
  });
});

describe("writeField", () => {
  it("rewrites one key and keeps everything the form does not show", () => {
    const input = { question: "", limit: 0, filters: { tag: "x" }, extra: [1] };
    const text = writeField(input, field("question"), "Why?");
    expect(JSON.parse(text)).toEqual({ question: "Why?", limit: 0, filters: { tag: "x" }, extra: [1] });
    expect(text).toBe(JSON.stringify(JSON.parse(text), null, 2));
    expect(input.question).toBe("");
  });

  it("removes a key whose field was emptied", () => {
    expect(JSON.parse(writeField({ limit: 4, verbose: true }, field("limit"), ""))).toEqual({ verbose: true });
  });
});
