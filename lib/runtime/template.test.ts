import { describe, expect, it } from "vitest";
import { DispatchError } from "./retry";
import { getPath, renderJson, renderString, renderUrl, urlTemplateProblem } from "./template";

function caught(fn: () => unknown): DispatchError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DispatchError) return error;
    throw error;
  }
  throw new Error("expected a DispatchError");
}

describe("getPath", () => {
  const value = { a: { b: [{ c: 1 }, { c: null, "user-id": "u1" }] }, list: [10, 20] };

  it("follows dotted and indexed paths", () => {
    expect(getPath(value, "a.b[0].c")).toBe(1);
    expect(getPath(value, "a.b[1].c")).toBeNull();
    expect(getPath(value, "a.b[1].user-id")).toBe("u1");
    expect(getPath(value, "list.1")).toBe(20);
    expect(getPath(value.list, "[0]")).toBe(10);
    expect(getPath(value, "")).toBe(value);
  });

  it("returns undefined for missing steps", () => {
    expect(getPath(value, "a.x")).toBeUndefined();
    expect(getPath(value, "a.b[5].c")).toBeUndefined();
    expect(getPath(value, "a.b[0].c.d")).toBeUndefined();
    expect(getPath("text", "length")).toBeUndefined();
    expect(getPath(value, "list.length")).toBeUndefined();
  });

  it("sees own properties only", () => {
    expect(getPath({}, "toString")).toBeUndefined();
    expect(getPath({}, "hasOwnProperty")).toBeUndefined();
  });

  it.each(["__proto__", "a.constructor", "a.prototype", "a.__proto__.polluted", "constructor.prototype"])("rejects %s", (path) => {
    const error = caught(() => getPath(value, path));
    expect(error.code).toBe("invalid_path");
    expect(error.retryable).toBe(false);
  });

  it.each(["a..b", ".a", "a.b[x]", "a b", "a[0", "a.b[0]c"])("rejects the malformed path %s", (path) => {
    expect(caught(() => getPath(value, path)).code).toBe("invalid_path");
  });
});

describe("renderUrl", () => {
  it("URL-encodes each value and keeps the rest of the template", () => {
    const url = renderUrl("https://api.example.com/users/{{input.user.id}}/items?q={{ input.query }}&n={{input.items[1].n}}", {
      user: { id: "a b/c?" },
      query: "x&y=1#z",
      items: [{ n: 1 }, { n: 2 }],
    });
    expect(url.href).toBe("https://api.example.com/users/a%20b%2Fc%3F/items?q=x%26y%3D1%23z&n=2");
  });

  it("encodes objects as JSON and accepts the whole input", () => {
    expect(renderUrl("http://h.test/?f={{input.filter}}", { filter: { a: 1 } }).search).toBe(`?f=${encodeURIComponent('{"a":1}')}`);
    expect(renderUrl("http://h.test/{{input}}", "plain").pathname).toBe("/plain");
    expect(renderUrl("http://h.test/{{input}}", 7).pathname).toBe("/7");
  });

  it("fails with template_missing_value naming the path", () => {
    const error = caught(() => renderUrl("http://h.test/{{input.x}}", { y: 1 }));
    expect(error.code).toBe("template_missing_value");
    expect(error.message).toContain("input.x is missing");
    expect(error.retryable).toBe(false);
  });

  it.each([
    ["not a url at all", "{{input}}", "nope"],
    ["a relative path", "/users/{{input}}", "1"],
    ["a file URL", "file:///etc/{{input}}", "passwd"],
    ["a javascript URL", "javascript:alert({{input}})", 1],
  ])("rejects %s as invalid_url", (_name, template, input) => {
    const error = caught(() => renderUrl(template, input));
    expect(error.code).toBe("invalid_url");
    expect(error.retryable).toBe(false);
  });

  it("cannot be steered to another host by a value", () => {
    const url = renderUrl("https://api.example.com/{{input}}", "@evil.test/x");
    expect(url.host).toBe("api.example.com");
  });

  it.each([
    ["right after the host", "https://api.example.com{{input.x}}/v1"],
    ["as the host", "http://{{input.x}}/v1"],
    ["as the port", "http://api.example.com:{{input.x}}/v1"],
    ["in the user part", "https://{{input.x}}@api.example.com/"],
  ])("refuses a placeholder %s, where a value would choose the server", (_name, template) => {
    const error = caught(() => renderUrl(template, { x: ".evil.test" }));
    expect(error.code).toBe("invalid_url");
    expect(error.message).toContain("placeholders may only be in the path, query or fragment");
    expect(urlTemplateProblem(template)).toContain("no input chooses the server");
  });

  it("accepts placeholders in the path, query and fragment", () => {
    for (const template of ["https://api.example.com/{{input.x}}", "https://api.example.com:8443?q={{input.x}}", "HTTPS://api.example.com#{{input.x}}"]) {
      expect(urlTemplateProblem(template)).toBeNull();
    }
  });

  it("rejects prototype paths in placeholders", () => {
    expect(caught(() => renderUrl("http://h.test/{{input.__proto__}}", {})).code).toBe("invalid_path");
    expect(caught(() => renderUrl("http://h.test/{{input.constructor}}", {})).code).toBe("invalid_path");
  });
});

describe("renderJson", () => {
  const input = { id: 42, name: "Ada", flags: { admin: true }, tags: ["x", "y"], nothing: null };

  it("keeps the raw value for a string that is exactly one placeholder", () => {
    expect(renderJson({ id: "{{input.id}}", flags: "{{ input.flags }}", tag: "{{input.tags[1]}}", nothing: "{{input.nothing}}" }, input)).toEqual({
      id: 42,
      flags: { admin: true },
      tag: "y",
      nothing: null,
    });
    expect(renderJson("{{input}}", input)).toEqual(input);
  });

  it("stringifies placeholders inside longer strings", () => {
    expect(renderJson("{{input.name}} #{{input.id}} {{input.flags}} {{input.nothing}}", input)).toBe('Ada #42 {"admin":true} null');
    expect(renderJson(" {{input.id}}", input)).toBe(" 42");
  });

  it("maps arrays and nested objects and leaves other values alone", () => {
    const template = { list: ["{{input.id}}", 1, true, null, { deep: ["{{input.name}}!"] }], n: 3.5 };
    expect(renderJson(template, input)).toEqual({ list: [42, 1, true, null, { deep: ["Ada!"] }], n: 3.5 });
    expect(template.list[0]).toBe("{{input.id}}");
  });

  it("does not template keys and keeps a __proto__ key as data", () => {
    const template = JSON.parse('{"{{input.id}}": 1, "__proto__": {"polluted": "{{input.name}}"}}') as unknown;
    const rendered = renderJson(template, input) as Record<string, unknown>;
    expect(Object.keys(rendered)).toEqual(["{{input.id}}", "__proto__"]);
    expect(Object.getPrototypeOf(rendered)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("leaves braces that are not input placeholders as written", () => {
    expect(renderJson("Hello {{name}} and {{ other.x }}", input)).toBe("Hello {{name}} and {{ other.x }}");
  });

  it("fails on a missing value, whole or embedded", () => {
    expect(caught(() => renderJson({ a: "{{input.missing}}" }, input)).message).toContain("input.missing is missing");
    expect(caught(() => renderJson(["x {{input.flags.root}}"], input)).code).toBe("template_missing_value");
  });

  it("rejects malformed placeholders instead of sending them", () => {
    expect(caught(() => renderJson("{{input.a b}}", input)).code).toBe("invalid_path");
    expect(caught(() => renderJson("{{input.}}", input)).code).toBe("invalid_path");
  });
});

describe("renderString", () => {
  it("stringifies every value", () => {
    expect(renderString("{{input.id}}", { id: 42 })).toBe("42");
    expect(renderString("Bearer {{ input.token }}", { token: "t" })).toBe("Bearer t");
  });
});
