import { expect, test } from "@playwright/test";
import { signIn } from "./fixtures";

test("an operator scores a frame from the trace inspector, and the score counts for its prompt version", async ({ page }) => {
  await signIn(page, "alice");
  await page.goto("/loops/demo-case-lookup");
  await page.getByLabel("Input (JSON)").fill('{"query":"palpitations at rest"}');
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page.getByRole("status", { name: "Run status: succeeded" })).toBeVisible({ timeout: 45_000 });

  const explorer = page.getByRole("region", { name: "Trace explorer" });
  const inspector = page.getByRole("complementary", { name: "Frame inspector" });
  await explorer.getByRole("button", { name: "demo-case-lookup succeeded" }).click();
  await expect(inspector.getByRole("heading", { name: "Score (counts for prompt v1)" })).toBeVisible();
  await inspector.getByRole("button", { name: "thumbs up" }).click();
  await expect(inspector.getByRole("status").filter({ hasText: "Scored 1 · thumbs up." })).toBeVisible();

  // The versions page attributes it to version 1.
  await page.goto("/loops/demo-case-lookup/prompts");
  await expect(page.locator('tr[data-version="1"]')).toContainText("1.00 (1)");
});

test("a viewer's inspector offers no scoring", async ({ page }) => {
  await signIn(page, "alice");
  await page.goto("/loops/demo-case-lookup");
  await page.getByLabel("Input (JSON)").fill('{"query":"dizziness"}');
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page.getByRole("status", { name: "Run status: succeeded" })).toBeVisible({ timeout: 45_000 });
  const runUrl = page.url();
  await page.context().clearCookies();
  await signIn(page, "vic");
  await page.goto(runUrl);
  await page.getByRole("region", { name: "Trace explorer" }).getByRole("button", { name: "demo-case-lookup succeeded" }).click();
  await expect(page.getByRole("complementary", { name: "Frame inspector" }).getByRole("heading", { name: "demo-case-lookup" })).toBeVisible();
  await expect(page.getByRole("button", { name: "thumbs up" })).toHaveCount(0);
});
