import { describe, expect, it } from "vitest";
import { prettyJson, visibleControls } from "./format";

describe("visibleControls", () => {
  it("shows every character that reorders text as its code, and leaves other text alone", () => {
    expect(visibleControls("invoice\u202Egnp.exe")).toBe("invoice⟨U+202E⟩gnp.exe");
    for (const char of ["\u061C", "\u200E", "\u200F", "\u202A", "\u202B", "\u202C", "\u202D", "\u2066", "\u2067", "\u2068", "\u2069"]) {
      expect(visibleControls(`a${char}b`)).toBe(`a⟨U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}⟩b`);
    }
    expect(visibleControls("שלום, ünïcode 👋 <b>")).toBe("שלום, ünïcode 👋 <b>");
  });
});

describe("prettyJson", () => {
  it("writes characters that reorder text as JSON escapes, so the text still parses to the same value", () => {
    const value = { q: "<script>x</script>\u202Egnp.exe", "k\u2066": [1] };
    const text = prettyJson(value);
    expect(text).not.toMatch(/[\u202E\u2066]/);
    expect(text).toContain("\\u202E");
    expect(JSON.parse(text)).toEqual(value);
  });
});
