import { expect, test } from "@playwright/test";
import { signIn } from "./fixtures";

test("a maintainer registers a loop with a child loop in the form, runs it, and walks its trace", async ({ page }) => {
  await signIn(page, "mo");
  await page.goto("/loops/new");
  await page.getByRole("tab", { name: "Form" }).click();
  const form = page.getByRole("form", { name: "Loop definition form" });
  await form.getByLabel("Loop id").fill("e2e-intake");
  await form.getByLabel("Type").selectOption("llm");
  await form.getByLabel("Model").fill("claude-sonnet-4-6");
  await form.getByLabel("System prompt").fill("Take a request in and look up similar cases.");
  await form.getByRole("button", { name: "Add tool" }).click();
  await form.getByLabel("Tool 1 name").fill("find_cases");
  await form.getByLabel("Tool 1 loop").selectOption("demo-case-lookup");
  await form.getByRole("button", { name: "Register loop" }).click();
  await expect(page).toHaveURL(/\/loops\/e2e-intake$/);

  // Run it: the scripted model calls the child loop once, then answers.
  await page.getByLabel("Input (JSON)").fill('{"request":"shortness of breath"}');
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page.getByRole("status", { name: "Run status: succeeded" })).toBeVisible({ timeout: 45_000 });
  const explorer = page.getByRole("region", { name: "Trace explorer" });
  await explorer.getByRole("button", { name: "demo-case-lookup succeeded" }).click();
  const inspector = page.getByRole("complementary", { name: "Frame inspector" });
  await expect(inspector.getByText("Version 1", { exact: true })).toBeVisible();
  await expect(inspector.getByText(/through tool call find_cases/)).toBeVisible();

  // A second revision, and the diff between the two.
  await page.goto("/loops/new?from=e2e-intake");
  await page.getByRole("tab", { name: "Form" }).click();
  await page.getByRole("form", { name: "Loop definition form" }).getByLabel("Max turns").fill("4");
  await page.getByRole("form", { name: "Loop definition form" }).getByRole("button", { name: "Save revision" }).click();
  await expect(page).toHaveURL(/\/loops\/e2e-intake$/);
  await page.getByRole("link", { name: "Compare revisions" }).click();
  const diff = page.getByRole("table", { name: /^Definition, / });
  await expect(diff).toContainText('"maxTurns": 8');
  await expect(diff).toContainText('"maxTurns": 4');
});

test("the run form offers fields generated from the loop's input schema", async ({ page }) => {
  await signIn(page, "alice");
  await page.goto("/loops/demo-case-lookup");
  await page.getByLabel(/^query/).fill("fainting on stairs");
  await expect(page.getByLabel("Input (JSON)")).toHaveValue(/"query": "fainting on stairs"/);
});

test("a refused definition shows every problem at its path, and nothing is registered", async ({ page }) => {
  await signIn(page, "mo");
  await page.goto("/loops/new");
  await page.getByLabel("Definition (JSON or YAML)").fill('{"id":"Bad Id","type":"llm","realm":"demo","llm":{"tools":[{"name":"t","loopRef":"nowhere"}]}}');
  await page.getByRole("button", { name: "Register loop" }).click();
  const alert = page.getByRole("alert").filter({ hasText: "The definition has problems" });
  await expect(alert).toContainText("id");
  await expect(alert).toContainText("llm.model");
  await expect(page).toHaveURL(/\/loops\/new/);
});
