import { describe, expect, it } from "vitest";
import { createSchemaValidator } from "./json-schema";

describe("createSchemaValidator", () => {
  it("checks patterns and pattern properties, each with its own pattern", () => {
    const validator = createSchemaValidator();
    const schema = {
      type: "object",
      properties: { code: { type: "string", pattern: "^[A-Z]{3}-\\d+$" }, name: { type: "string", pattern: "^\\p{Lu}" } },
      patternProperties: { "^x-": { type: "number" } },
    };
    expect(validator.validate(schema, { code: "ABC-12", name: "Émile", "x-weight": 3 })).toEqual([]);
    expect(validator.validate(schema, { code: "abc-12", name: "émile", "x-weight": "heavy" })).toEqual([
      { path: "code", message: 'must match pattern "^[A-Z]{3}-\\d+$"' },
      { path: "name", message: 'must match pattern "^\\p{Lu}"' },
      { path: "x-weight", message: "must be number" },
    ]);
  });

  it("answers in linear time for a pattern that makes a backtracking engine take hours", () => {
    const validator = createSchemaValidator();
    const schema = { type: "object", properties: { s: { type: "string", pattern: "^(a+)+$" } } };
    // 60 characters: about 2^60 steps for a backtracking engine; this test would not end.
    expect(validator.validate(schema, { s: `${"a".repeat(60)}!` })).toEqual([{ path: "s", message: 'must match pattern "^(a+)+$"' }]);
    expect(validator.validate(schema, { s: "a".repeat(100_000) })).toEqual([]);
  });

  it("refuses a pattern the linear-time engine cannot run, naming the problem", () => {
    const validator = createSchemaValidator();
    const issues = validator.checkSchema({ type: "string", pattern: "^(?!admin).*$" });
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toMatch(/^Patterns run on RE2, which has no lookaround or backreferences: .*\(\?!/);
    expect(validator.checkSchema({ type: "string", pattern: "(a)\\1" })).toHaveLength(1);
    // A schema stored before, checked against a value: every value is refused, with the reason.
    expect(validator.validate({ type: "string", pattern: "^(?!admin).*$" }, "guest")).toEqual([
      { path: "", message: expect.stringMatching(/^The schema cannot be checked: Patterns run on RE2/) as string },
    ]);
  });
});
