import { describe, expect, it } from "vitest";
import { loginErrorMessage } from "../../app/login/messages";
import { refusalCode } from "./refusal";

describe("refusalCode", () => {
  it("tells a throttled name from a wrong password to no one, and an unreachable directory to everyone", () => {
    expect(refusalCode("throttled")).toBe("refused");
    expect(refusalCode("invalid_credentials")).toBe("refused");
    expect(refusalCode("directory_unavailable")).toBe("directory_unavailable");
    // The form reads the same codes.
    expect(loginErrorMessage(refusalCode("throttled"))).toBe(loginErrorMessage(refusalCode("invalid_credentials")));
    expect(loginErrorMessage(refusalCode("directory_unavailable"))).toMatch(/directory cannot be reached/);
  });
});
