import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { canonicalJson } from "../canonical-json";
import type { AppErrorIssue } from "../errors";

/** JSON Schema validation for loop inputs and outputs, compiled once per distinct schema. */
export interface SchemaValidator {
  /** Problems with the schema itself (empty when it compiles). */
  checkSchema(schema: Record<string, unknown>): AppErrorIssue[];
  /** Problems with a value, each with a JSON path such as `vitals.heartRate`. */
  validate(schema: Record<string, unknown>, value: unknown): AppErrorIssue[];
}

export function createSchemaValidator(): SchemaValidator {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const compiled = new Map<string, ValidateFunction>();
  // A loop's schema object is the same for every frame of it: found without serialising it again.
  const bySchemaObject = new WeakMap<object, ValidateFunction>();

  const compile = (schema: Record<string, unknown>): ValidateFunction => {
    let fn = bySchemaObject.get(schema);
    if (fn) return fn;
    const key = canonicalJson(schema);
    fn = compiled.get(key);
    if (!fn) {
      fn = ajv.compile(schema);
      compiled.set(key, fn);
    }
    bySchemaObject.set(schema, fn);
    return fn;
  };

  return {
    checkSchema(schema) {
      try {
        compile(schema);
        return [];
      } catch (error) {
        return [{ path: "", message: error instanceof Error ? error.message : String(error) }];
      }
    },
    validate(schema, value) {
      const fn = compile(schema);
      if (fn(value)) return [];
      return (fn.errors ?? []).map(toIssue);
    },
  };
}

function toIssue(error: ErrorObject): AppErrorIssue {
  const path = error.instancePath
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join("")
    .replace(/^\./, "");
  const missing = error.keyword === "required" ? (error.params as { missingProperty?: string }).missingProperty : undefined;
  if (missing) return { path: path ? `${path}.${missing}` : missing, message: "is required" };
  return { path, message: error.message ?? "is invalid" };
}
