import { expect, test } from "@playwright/test";
import { verifyBundle } from "../lib/export/verify-bundle";
import { screenshot, signIn } from "./fixtures";

test("an auditor downloads a run's compliance bundle in one click, and it verifies", async ({ page, context }) => {
  // An operator makes a run to export.
  await signIn(page, "alice");
  await page.goto("/loops/demo-case-lookup");
  await page.getByLabel("Input (JSON)").fill('{"query":"syncope after exercise"}');
  await page.getByRole("button", { name: "Run" }).click();
  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}/);
  const runUrl = page.url();
  await expect(page.getByRole("status", { name: "Run status: succeeded" })).toBeVisible();
  // Operators may run but not export.
  await expect(page.getByRole("link", { name: "Export compliance bundle" })).toHaveCount(0);
  await context.clearCookies();

  await signIn(page, "otto");
  await page.goto(runUrl);
  // A link on another site cannot start an export with the auditor's session.
  const exportLink = page.getByRole("link", { name: "Export compliance bundle" });
  const exportUrl = new URL((await exportLink.getAttribute("href"))!, page.url()).toString();
  const crossSite = await page.request.get(exportUrl, { headers: { "sec-fetch-site": "cross-site" } });
  expect(crossSite.status()).toBe(403);
  expect(await crossSite.text()).toContain("started from the console's own pages");
  const [download] = await Promise.all([page.waitForEvent("download"), exportLink.click()]);
  expect(download.suggestedFilename()).toMatch(/^loopstacks-bundle-run-.+\.tar\.gz$/);
  const path = test.info().outputPath(download.suggestedFilename());
  await download.saveAs(path);
  const verification = await verifyBundle(path);
  expect(verification.problems).toEqual([]);
  expect(verification.ok).toBe(true);

  await page.goto("/exports");
  await expect(page.getByRole("heading", { name: "Compliance export" })).toBeVisible();
  await screenshot(page, "exports");
  const [rangeDownload] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export compliance bundle" }).click()]);
  expect(rangeDownload.suggestedFilename()).toMatch(/^loopstacks-bundle-realm-demo-.+\.tar\.gz$/);
  const rangePath = test.info().outputPath(rangeDownload.suggestedFilename());
  await rangeDownload.saveAs(rangePath);
  expect((await verifyBundle(rangePath)).ok).toBe(true);
});
