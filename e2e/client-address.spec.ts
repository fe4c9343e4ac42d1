import { expect, test } from "@playwright/test";
import { signIn } from "./fixtures";

test("a failed login is recorded under the address it came from, the one its throttling counts, whatever the client's headers claim", async ({ browser, page }) => {
  // A client that claims other addresses in every header a proxy would set, and in the console's own.
  const spoofing = await browser.newContext({
    extraHTTPHeaders: {
      "x-forwarded-for": "203.0.113.7",
      "x-real-ip": "203.0.113.8",
      forwarded: "for=203.0.113.9",
      "x-loopstacks-client-address": "198.51.100.9",
    },
  });
  const attacker = await spoofing.newPage();
  await attacker.goto("/login");
  await attacker.getByLabel("Username").fill("mallory-e2e");
  await attacker.getByLabel("Password").fill("guess");
  await attacker.getByRole("button", { name: "Sign in" }).click();
  await expect(attacker.getByRole("form", { name: "Sign in" }).getByRole("alert")).toHaveText("Incorrect username or password, or too many attempts. Try again later.");
  await spoofing.close();

  await signIn(page, "otto");
  await page.goto("/audit?actor=mallory-e2e");
  const row = page.getByRole("row").filter({ hasText: "login.failed" }).filter({ hasText: "mallory-e2e" });
  await expect(row).toHaveCount(1);
  await row.getByText("data").click();
  const data = row.getByLabel(/^Data of audit event/);
  await expect(data).toContainText('"clientAddress": "127.0.0.1"');
  await expect(data).not.toContainText("203.0.113");
  await expect(data).not.toContainText("198.51.100.9");
});
