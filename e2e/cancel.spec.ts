import { expect, test } from "@playwright/test";
import { signIn } from "./fixtures";

test("an operator cancels a running run; it and its frames end cancelled", async ({ page }) => {
  await signIn(page, "alice");
  await page.goto("/loops/demo-triage");
  await page.getByLabel("Input (JSON)").fill('{"request":"stop this one"}');
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}/);
  // The scripted model answers slowly in these tests, so the run is still executing here.
  await page.getByRole("button", { name: "Cancel run" }).click();
  await expect(page.getByRole("status", { name: "Run status: cancelled" })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("region", { name: "Trace explorer" }).getByRole("button", { name: "demo-triage cancelled" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Cancel run" })).toHaveCount(0);
});
