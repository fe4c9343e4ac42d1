import { describe, expect, it } from "vitest";
import { DispatchError } from "../retry";
import { parseResponse, refuseReusedToolUseIds } from "./model-response";

const valid = () => ({
  id: "msg_1",
  type: "message",
  role: "assistant",
  model: "claude-sonnet-4",
  content: [
    { type: "thinking", thinking: "…", signature: "sig" },
    { type: "text", text: "Looking it up.", citations: null },
    { type: "tool_use", id: "toolu_1", name: "lookup", input: { q: "x" } },
  ],
  stop_reason: "tool_use",
  stop_sequence: null,
  usage: { input_tokens: 12, output_tokens: 3, cache_read_input_tokens: 0 },
});

function problem(raw: unknown): string {
  try {
    parseResponse(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(DispatchError);
    expect(error).toMatchObject({ code: "model_response_invalid", retryable: false });
    return (error as Error).message;
  }
  throw new Error("expected the response to be refused");
}

describe("parseResponse", () => {
  it("accepts a Messages API response and keeps the fields it does not read", () => {
    const response = parseResponse(valid());
    expect(response.content[1]).toEqual({ type: "text", text: "Looking it up.", citations: null });
    expect(response.usage).toEqual({ input_tokens: 12, output_tokens: 3, cache_read_input_tokens: 0 });
    expect(parseResponse({ ...valid(), model: undefined, content: [], stop_reason: "end_turn" }).content).toEqual([]);
  });

  it("names the first field that is wrong", () => {
    const cases: [unknown, string][] = [
      [null, "body: expected an object"],
      [[valid()], "body: expected an object"],
      [{ ...valid(), type: "error" }, 'type: expected "message"'],
      [{ ...valid(), role: "user" }, 'role: expected "assistant"'],
      [{ ...valid(), model: 4 }, "model: expected a string"],
      [{ ...valid(), content: undefined }, "content: expected an array"],
      [{ ...valid(), content: [{ type: "text", text: "ok" }, "text"] }, "content.1: expected an object"],
      [{ ...valid(), content: [{ type: "text" }] }, "content.0.text: expected a string"],
      [{ ...valid(), content: [{ type: "tool_use", id: "", name: "lookup", input: {} }] }, "content.0.id: expected a non-empty string"],
      [{ ...valid(), content: [{ type: "tool_use", id: "toolu_1", input: {} }] }, "content.0.name: expected a non-empty string"],
      [{ ...valid(), content: [{ type: "image" }] }, "content.0.type: expected"],
      [
        { ...valid(), content: [{ type: "tool_use", id: "toolu_1", name: "a", input: {} }, { type: "text", text: "and" }, { type: "tool_use", id: "toolu_1", name: "b", input: {} }] },
        'content.2.id: "toolu_1" is the id of an earlier tool_use',
      ],
      [{ ...valid(), stop_reason: "done" }, "stop_reason: expected one of end_turn, tool_use"],
      [{ ...valid(), content: [{ type: "text", text: "Calling nothing." }] }, "stop_reason: tool_use, but content has no tool_use block"],
      [{ ...valid(), usage: null }, "usage: expected an object"],
      [{ ...valid(), usage: { input_tokens: -1, output_tokens: 3 } }, "usage.input_tokens: expected a whole number"],
      [{ ...valid(), usage: { input_tokens: 1.5, output_tokens: 3 } }, "usage.input_tokens: expected a whole number"],
      [{ ...valid(), usage: { input_tokens: 1, output_tokens: 2 ** 31 } }, "usage.output_tokens: expected a whole number"],
      [{ ...valid(), usage: { input_tokens: 1, output_tokens: "3" } }, "usage.output_tokens: expected a whole number"],
    ];
    for (const [raw, expected] of cases) expect(problem(raw)).toContain(`The model returned a malformed response (${expected}`);
  });
});

describe("refuseReusedToolUseIds", () => {
  const earlier = [
    { role: "user" as const, content: "Look it up" },
    { role: "assistant" as const, content: [{ type: "tool_use" as const, id: "toolu_1", name: "lookup", input: {} }] },
    { role: "user" as const, content: [{ type: "tool_result" as const, tool_use_id: "toolu_1", content: "found" }] },
  ];

  it("refuses an answer that reuses an id from an earlier turn, and lets new ids through", () => {
    const reused = parseResponse(valid());
    expect(() => refuseReusedToolUseIds(reused, earlier)).toThrow(/tool_use id "toolu_1" was used in an earlier turn/);
    const fresh = parseResponse({ ...valid(), content: [{ type: "tool_use", id: "toolu_2", name: "lookup", input: {} }] });
    expect(() => refuseReusedToolUseIds(fresh, earlier)).not.toThrow();
    expect(() => refuseReusedToolUseIds(reused, earlier.slice(0, 1))).not.toThrow();
  });
});
