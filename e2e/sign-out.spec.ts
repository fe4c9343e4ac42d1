import { expect, test } from "@playwright/test";
import { signIn } from "./fixtures";

const UNKNOWN_RUN = "/api/runs/00000000-0000-4000-8000-000000000000";

test("signing out ends the session for every copy of its cookie, and is audited", async ({ page, playwright, baseURL }) => {
  await signIn(page, "ada");
  const sessionCookie = (await page.context().cookies()).find((c) => /^(__Secure-)?authjs\.session-token$/.test(c.name));
  expect(sessionCookie).toBeDefined();
  // Someone else holds a copy of the cookie, sent from outside the browser.
  const copy = await playwright.request.newContext({ baseURL, extraHTTPHeaders: { cookie: `${sessionCookie!.name}=${sessionCookie!.value}` } });
  try {
    expect((await copy.get("/runs", { maxRedirects: 0 })).status()).toBe(200);
    expect((await copy.get(UNKNOWN_RUN)).status()).toBe(404);

    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/login/);

    const pageAfter = await copy.get("/runs", { maxRedirects: 0 });
    expect(pageAfter.status()).toBe(307);
    expect(pageAfter.headers().location).toMatch(/\/login/);
    expect((await copy.get(UNKNOWN_RUN)).status()).toBe(401);
    // The login page shows the form to the old cookie instead of sending it back into the console.
    const login = await copy.get("/login", { maxRedirects: 0 });
    expect(login.status()).toBe(200);
  } finally {
    await copy.dispose();
  }

  await signIn(page, "ada");
  await page.goto("/audit?action=logout");
  await expect(page.getByRole("table").getByText("logout", { exact: true }).first()).toBeVisible();
});
