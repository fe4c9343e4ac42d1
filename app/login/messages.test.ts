import { describe, expect, it } from "vitest";
import { LOGIN_REFUSED_MESSAGE } from "@/lib/services/authenticate";
import { loginErrorMessage } from "./messages";

describe("loginErrorMessage", () => {
  it("says the same for a wrong password, an unknown user, a throttled attempt and an unreadable form", () => {
    expect(loginErrorMessage("throttled")).toBe(LOGIN_REFUSED_MESSAGE);
    expect(loginErrorMessage("invalid_credentials")).toBe(LOGIN_REFUSED_MESSAGE);
    expect(loginErrorMessage("credentials")).toBe(LOGIN_REFUSED_MESSAGE);
    expect(loginErrorMessage(undefined)).toBe(LOGIN_REFUSED_MESSAGE);
  });

  it("says so when the directory cannot be reached, which is not the person's doing", () => {
    expect(loginErrorMessage("directory_unavailable")).toMatch(/directory cannot be reached/);
  });
});
