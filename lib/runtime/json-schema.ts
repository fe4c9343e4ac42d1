import { Ajv, type ErrorObject, type Options, type ValidateFunction } from "ajv";
import { RE2JS, RE2JSSyntaxException } from "re2js";
import { canonicalJson } from "../canonical-json";
import type { AppErrorIssue } from "../errors";

/** JSON Schema validation for loop inputs and outputs, compiled once per distinct schema. */
export interface SchemaValidator {
  /** Problems with the schema itself (empty when it compiles). */
  checkSchema(schema: Record<string, unknown>): AppErrorIssue[];
  /** Problems with a value, each with a JSON path such as `vitals.heartRate`. */
  validate(schema: Record<string, unknown>, value: unknown): AppErrorIssue[];
}

/**
 * The engine of `pattern` and `patternProperties`: RE2, whose matching time grows linearly with
 * the input. A pattern a maintainer registers cannot make a caller's input stall the process, as
 * a backtracking engine could (`^(a+)+$` against a few dozen characters takes hours). RE2 has no
 * lookaround and no backreferences: a schema using them is refused when the loop is registered.
 */
const linearTimePatterns: NonNullable<NonNullable<Options["code"]>["regExp"]> = Object.assign(
  (pattern: string) => {
    const compiled = RE2JS.compile(RE2JS.translateRegExp(pattern));
    // Ajv keys compiled patterns by their text.
    return { test: (text: string) => compiled.test(text), toString: () => `re2:${pattern}` };
  },
  { code: "re2js" },
);

export function createSchemaValidator(): SchemaValidator {
  const ajv = new Ajv({ allErrors: true, strict: false, code: { regExp: linearTimePatterns } });
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

  const problemWith = (error: unknown): AppErrorIssue => {
    if (error instanceof RE2JSSyntaxException) return { path: "", message: `Patterns run on RE2, which has no lookaround or backreferences: ${error.message}` };
    return { path: "", message: error instanceof Error ? error.message : String(error) };
  };

  return {
    checkSchema(schema) {
      try {
        compile(schema);
        return [];
      } catch (error) {
        return [problemWith(error)];
      }
    },
    validate(schema, value) {
      let fn: ValidateFunction;
      try {
        fn = compile(schema);
      } catch (error) {
        // A schema registered before patterns ran on RE2 may no longer compile: say so, for every value.
        return [{ path: "", message: `The schema cannot be checked: ${problemWith(error).message}` }];
      }
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
