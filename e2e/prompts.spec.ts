import { expect, test } from "@playwright/test";
import { screenshot, signIn } from "./fixtures";

test("a maintainer writes a version, diffs it, promotes it, runs it, rolls back, rolls out and replays", async ({ page }) => {
  await signIn(page, "mo");
  await page.goto("/loops/demo-triage/prompts");
  const table = page.getByRole("table", { name: "Prompt versions" });
  await expect(table.getByRole("row").filter({ hasText: "v1" })).toContainText("active");
  await screenshot(page, "prompts-versions");

  await page.getByRole("link", { name: "New version" }).first().click();
  const system = page.getByLabel(/System prompt/);
  await system.fill(`${await system.inputValue()}\nAlways name the most urgent finding first.`);
  await page.getByLabel(/Message/).fill("Lead with urgency");
  await page.getByRole("button", { name: "Create version" }).click();
  await expect(page).toHaveURL(/\/prompts\/2\?created=1$/);
  await expect(page.getByRole("status").filter({ hasText: "Version 2 is saved" })).toBeVisible();

  await page.getByRole("link", { name: "Diff with active" }).click();
  const diff = page.getByRole("table", { name: /System prompt, v1 to v2/ });
  await expect(diff.locator('tr[data-kind="added"]')).toContainText("Always name the most urgent finding first.");
  await screenshot(page, "prompts-diff");

  await page.goto("/loops/demo-triage/prompts/2");
  await page.getByLabel("Why promote version 2?").fill("Urgent findings first");
  await page.getByRole("button", { name: "Promote" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Version 2 is active (was 1)" })).toBeVisible();

  await page.goto("/loops/demo-triage");
  await page.getByLabel("Input (JSON)").fill('{"request":"chest pain"}');
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}/);
  await expect(page.getByRole("status", { name: "Run status: succeeded" })).toBeVisible({ timeout: 45_000 });
  // The inspector shows the version the frame actually ran.
  await page.getByRole("region", { name: "Trace explorer" }).getByRole("button", { name: "demo-triage succeeded" }).click();
  await expect(page.getByRole("complementary", { name: "Frame inspector" }).getByText("Version 2", { exact: true })).toBeVisible();
  await screenshot(page, "prompts-run-v2");

  await page.goto("/loops/demo-triage/prompts/1");
  await page.getByLabel("Why roll back to version 1?").fill("Check the old wording again");
  await page.getByRole("button", { name: "Roll back" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Version 1 is active (was 2)" })).toBeVisible();

  await page.getByRole("link", { name: "History" }).click();
  const moves = page.getByRole("table", { name: "Promotions and rollbacks" });
  await expect(moves.locator('tr[data-kind="rollback"]')).toContainText("Check the old wording again");
  await expect(moves.locator('tr[data-kind="promotion"]')).toContainText("Urgent findings first");
  await screenshot(page, "prompts-history");

  await page.getByRole("link", { name: "Versions" }).click();
  await page.getByLabel("Share of executions (%)").fill("25");
  await page.getByRole("button", { name: "Start rollout" }).click();
  await expect(page.getByText(/Version 2\s*runs for\s*25 %/)).toBeVisible();
  await screenshot(page, "prompts-rollout");
  await page.getByRole("button", { name: "Complete: promote v2" }).click();
  await expect(page.getByRole("table", { name: "Prompt versions" }).getByRole("row").filter({ hasText: "v2" })).toContainText("active");

  await page.getByRole("link", { name: "Compare" }).click();
  // Replay the inputs of the run of the active version 2 on version 1.
  await page.getByRole("combobox", { name: "From" }).selectOption("2");
  await page.getByRole("combobox", { name: "To" }).selectOption("1");
  await page.getByRole("button", { name: "Compare", exact: true }).click();
  await page.getByRole("button", { name: /^Replay \d+ runs?$/ }).click();
  await expect(page).toHaveURL(/replays=/);
  const replay = page.getByRole("article").first();
  await expect(replay.getByText(/^Replay \(v1\)$/)).toBeVisible();
  await expect(replay.getByText(/^succeeded/).nth(1)).toBeVisible({ timeout: 30_000 });
  await replay.getByRole("button", { name: "thumbs up" }).last().click();
  await expect(replay.getByRole("status")).toContainText("Scored 1 · thumbs up");
  await screenshot(page, "prompts-compare");
});

test("a viewer sees versions but no Promote or Roll back", async ({ page }) => {
  await signIn(page, "vic");
  await page.goto("/loops/demo-triage/prompts/1");
  await expect(page.getByRole("heading", { name: "Version 1" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Promote" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Roll back" })).toHaveCount(0);
  await page.goto("/loops/demo-triage/prompts/new");
  await expect(page.getByText(/needs the maintainer or admin role/)).toBeVisible();
});
