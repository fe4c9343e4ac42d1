/**
 * A form for a loop's input, built from its JSON Schema: one field per top-level property the
 * form can express (string, number, integer, boolean, enum). The JSON text stays the source of
 * truth — a field edit rewrites one key of it — so whatever the form cannot express (nested
 * objects, arrays, extra keys) survives untouched and can be edited in the JSON.
 */

export type EnumOption = string | number | boolean | null;

export type SchemaField =
  | { kind: "string" | "number" | "integer" | "boolean"; name: string; label: string; description?: string; required: boolean }
  | { kind: "enum"; name: string; label: string; description?: string; required: boolean; options: EnumOption[] };

export interface SchemaForm {
  fields: SchemaField[];
  /** Properties left to the JSON editor. */
  unsupported: string[];
}

type PropertySchema = { type?: unknown; enum?: unknown; const?: unknown; title?: unknown; description?: unknown };

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function isEnumOption(value: unknown): value is EnumOption {
  return value === null || ["string", "number", "boolean"].includes(typeof value);
}

/** The one non-null type of a property; `["string", "null"]` is a nullable string. */
function singleType(type: unknown): unknown {
  if (!Array.isArray(type)) return type;
  const types = type.filter((t) => t !== "null");
  return types.length === 1 ? types[0] : undefined;
}

function fieldFor(name: string, property: unknown, required: boolean): SchemaField | null {
  if (!isRecord(property)) return null;
  const p = property as PropertySchema;
  const label = typeof p.title === "string" && p.title.trim() ? p.title : name;
  const description = typeof p.description === "string" && p.description.trim() ? p.description : undefined;
  const common = { name, label, required, ...(description ? { description } : {}) };
  const options = Array.isArray(p.enum) ? p.enum : p.const !== undefined ? [p.const] : undefined;
  if (options) return options.length > 0 && options.every(isEnumOption) ? { ...common, kind: "enum", options } : null;
  const type = singleType(p.type);
  if (type === "string" || type === "number" || type === "integer" || type === "boolean") return { ...common, kind: type };
  return null;
}

/** The form for an object schema, or null when the schema is not an object with properties the form can express. */
export function buildSchemaForm(schema: unknown): SchemaForm | null {
  if (!isRecord(schema) || singleType(schema.type) !== "object" || !isRecord(schema.properties)) return null;
  const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === "string") : []);
  const fields: SchemaField[] = [];
  const unsupported: string[] = [];
  for (const [name, property] of Object.entries(schema.properties)) {
    const field = fieldFor(name, property, required.has(name));
    if (field) fields.push(field);
    else unsupported.push(name);
  }
  return fields.length > 0 ? { fields, unsupported } : null;
}

/** The JSON text as an object the form can edit, or null when it is not valid JSON of an object. */
export function parseInputObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return isRecord(value) ? value : null;
  } catch {
    return null;
  }
}

/** Where an enum option sits in a select; options are told apart by their JSON, so `1` and `"1"` differ. */
export function enumOptionValue(option: EnumOption): string {
  return JSON.stringify(option);
}

/**
 * What a field's control holds as a JSON value: `undefined` removes the key. An optional
 * text left empty is removed rather than sent as `""`; a number that does not parse is kept as
 * typed, so the server's schema check names the field instead of the form dropping it silently.
 */
export function fieldToJson(field: SchemaField, raw: string | boolean): unknown {
  switch (field.kind) {
    case "boolean":
      return raw === true || raw === "true";
    case "string": {
      const text = String(raw);
      return text === "" && !field.required ? undefined : text;
    }
    case "number":
    case "integer": {
      const text = String(raw).trim();
      if (text === "") return undefined;
      const n = Number(text);
      return Number.isFinite(n) ? n : text;
    }
    case "enum": {
      const text = String(raw);
      return field.options.find((option) => enumOptionValue(option) === text);
    }
  }
}

/**
 * What a field's control shows for the value in the JSON. `draft` is what the person last typed
 * into a number field; it is kept while it still means the same number, so "1." or "2.50" is not
 * rewritten under their cursor.
 */
export function fieldDisplay(field: SchemaField, value: unknown, draft?: string): string | boolean {
  switch (field.kind) {
    case "boolean":
      return value === true;
    case "enum":
      return value !== undefined && field.options.some((option) => option === value) ? enumOptionValue(value as EnumOption) : "";
    case "number":
    case "integer":
      if (draft !== undefined && Object.is(fieldToJson(field, draft), value)) return draft;
      return value === undefined || value === null ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
    case "string":
      return typeof value === "string" ? value : value === undefined || value === null ? "" : JSON.stringify(value);
  }
}

/** The JSON text with one field's value written in (or removed), pretty-printed as the editor shows it. */
export function writeField(input: Record<string, unknown>, field: SchemaField, raw: string | boolean): string {
  const value = fieldToJson(field, raw);
  const next = { ...input };
  if (value === undefined) delete next[field.name];
  else next[field.name] = value;
  return JSON.stringify(next, null, 2);
}
