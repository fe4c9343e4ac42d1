import { readFileSync } from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import { screenshot, signIn } from "./fixtures";

/** Runs demo-triage from its loop page and waits on the run page until it has finished. */
async function runDemoTriage(page: Page): Promise<void> {
  await page.getByRole("link", { name: "demo-triage" }).click();
  await page.getByLabel("Input (JSON)").fill('{"request":"the export job failed twice"}');
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}/);
  await expect(page.getByRole("status", { name: "Run status: succeeded" })).toBeVisible({ timeout: 45_000 });
}

test("the trace explorer walks a run's Loop Stack Tree: graph, inspector, deep link, search, keyboard, timeline", async ({ page, context }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await signIn(page, "alice");
  await runDemoTriage(page);
  const runUrl = new URL(page.url());

  const explorer = page.getByRole("region", { name: "Trace explorer" });
  const inspector = page.getByRole("complementary", { name: "Frame inspector" });
  await expect(explorer.getByRole("button", { name: "demo-triage succeeded" })).toBeVisible();
  for (const child of ["demo-case-lookup", "demo-echo", "demo-health-check"]) {
    await expect(explorer.getByRole("button", { name: `${child} succeeded` })).toBeVisible();
  }
  await expect(explorer.getByRole("button", { name: "Collapse demo-triage" })).toHaveAttribute("aria-expanded", "true");
  await screenshot(page, "trace-explorer-graph");

  // A child frame: its prompt version (text fetched when opened), the tool call that spawned it.
  await explorer.getByRole("button", { name: "demo-case-lookup succeeded" }).click();
  await expect(inspector.getByRole("heading", { name: "demo-case-lookup" })).toBeVisible();
  await expect(inspector.getByText("Version 1", { exact: true })).toBeVisible();
  await expect(inspector.getByLabel("Prompt version 1 text")).toHaveText("You search prior cases and summarise the three closest.");
  await expect(inspector.getByText(/by seed \(registration/)).toBeVisible();
  await expect(inspector.getByText("through tool call")).toContainText("lookup_cases");
  await expect(inspector.getByText("claude-sonnet-4-6", { exact: true })).toBeVisible();
  await expect(inspector.getByText("Allowed", { exact: true })).toBeVisible();
  const childUrl = new URL(page.url());
  const childId = childUrl.searchParams.get("frame");
  expect(childId).toMatch(/^[0-9a-f-]{36}$/);
  await inspector.screenshot({ path: "test-results/screenshots/trace-explorer-inspector.png" });

  // Copy and download the frame as JSON, without its children.
  await inspector.getByRole("button", { name: "Copy JSON" }).click();
  await expect(inspector.getByRole("status")).toHaveText("Frame JSON copied");
  const copied = JSON.parse(await page.evaluate(() => navigator.clipboard.readText())) as Record<string, unknown>;
  expect(copied).toMatchObject({ id: childId, loop: { id: "demo-case-lookup" }, status: "succeeded" });
  expect(copied).not.toHaveProperty("children");
  const downloading = page.waitForEvent("download");
  await inspector.getByRole("button", { name: "Download JSON" }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe(`frame-demo-case-lookup-${childId}.json`);
  const downloaded = JSON.parse(readFileSync(await download.path(), "utf8")) as Record<string, unknown>;
  expect(downloaded).toEqual(copied);

  // The parent's tool calls link to the frames they spawned.
  await inspector.getByRole("link", { name: "demo-triage" }).click();
  await expect(inspector.getByRole("heading", { name: "demo-triage" })).toBeVisible();
  for (const call of ["lookup_cases", "echo_note", "check_health"]) await expect(inspector.getByText(call, { exact: true })).toBeVisible();
  await inspector.getByRole("link", { name: "Open frame demo-echo" }).click();
  await expect(inspector.getByRole("heading", { name: "demo-echo" })).toBeVisible();
  await expect(inspector.getByText("Version 1", { exact: true })).toBeHidden();

  // The address is a deep link: opening it selects the frame and opens its inspector.
  const echoUrl = page.url();
  expect(new URL(echoUrl).searchParams.get("frame")).toMatch(/^[0-9a-f-]{36}$/);
  await page.goto(runUrl.toString());
  await expect(inspector).toBeHidden();
  await page.goto(echoUrl);
  await expect(inspector.getByRole("heading", { name: "demo-echo" })).toBeVisible();
  const echoId = new URL(echoUrl).searchParams.get("frame")!;
  await expect(explorer.locator(`.react-flow__node[data-id="${echoId}"] .trace-node`)).toHaveCSS("box-shadow", /99, 102, 241/);

  // Search: matches by loop id, status and tool name; the first match is selected and focused.
  const search = explorer.getByRole("searchbox", { name: "Search frames" });
  const results = explorer.getByRole("status", { name: "Search results" });
  await search.fill("demo-health");
  await expect(results).toHaveText("1 of 1");
  await expect(inspector.getByRole("heading", { name: "demo-health-check" })).toBeVisible();
  await search.fill("succeeded");
  await expect(results).toHaveText("1 of 4");
  await explorer.getByRole("button", { name: "Next match" }).click();
  await expect(results).toHaveText("2 of 4");
  await expect(inspector.getByRole("heading", { name: "demo-case-lookup" })).toBeVisible();
  await search.fill("echo_note");
  await expect(inspector.getByRole("heading", { name: "demo-triage" })).toBeVisible();
  await search.fill("no-such-frame");
  await expect(results).toHaveText("No matches");
  await search.fill("");

  // Keyboard: up to the caller, down to the first child, across to siblings; Escape closes the inspector, Enter opens it.
  const caseLookup = explorer.getByRole("button", { name: "demo-case-lookup succeeded" });
  await caseLookup.focus();
  await page.keyboard.press("ArrowRight");
  await expect(explorer.getByRole("button", { name: "demo-echo succeeded" })).toBeFocused();
  await page.keyboard.press("ArrowUp");
  await expect(explorer.getByRole("button", { name: "demo-triage succeeded" })).toBeFocused();
  await page.keyboard.press("ArrowDown");
  await expect(caseLookup).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(inspector).toBeHidden();
  await page.keyboard.press("Enter");
  await expect(inspector.getByRole("heading", { name: "demo-case-lookup" })).toBeVisible();

  // Collapse and expand a subtree.
  await explorer.getByRole("button", { name: "Collapse demo-triage" }).click();
  await expect(explorer.getByRole("button", { name: "demo-echo succeeded" })).toBeHidden();
  await explorer.getByRole("button", { name: "Expand 3 frames under demo-triage" }).click();
  await expect(explorer.getByRole("button", { name: "demo-echo succeeded" })).toBeVisible();
  await screenshot(page, "trace-explorer-run");

  // The same run as a waterfall.
  await explorer.getByRole("tab", { name: "Timeline" }).click();
  const timeline = explorer.getByRole("list", { name: "Timeline of frames" });
  await expect(timeline.getByRole("listitem")).toHaveCount(4);
  await timeline.getByRole("button", { name: "demo-triage succeeded" }).focus();
  await page.keyboard.press("ArrowDown");
  await expect(timeline.getByRole("button", { name: "demo-case-lookup succeeded" })).toBeFocused();
  await timeline.getByRole("button", { name: "demo-health-check succeeded" }).click();
  await expect(inspector.getByRole("heading", { name: "demo-health-check" })).toBeVisible();
  await screenshot(page, "trace-explorer-timeline");
});

test("the prompt details route answers only signed-in callers, and 404 for frames they cannot see", async ({ page, request }) => {
  const anonymous = await request.get("/api/runs/00000000-0000-4000-8000-000000000000/frames/00000000-0000-4000-8000-000000000001/prompt");
  expect(anonymous.status()).toBe(401);

  await signIn(page, "alice");
  const missing = await page.request.get("/api/runs/00000000-0000-4000-8000-000000000000/frames/00000000-0000-4000-8000-000000000001/prompt");
  expect(missing.status()).toBe(404);
  const malformed = await page.request.get("/api/runs/not-a-run/frames/not-a-frame/prompt");
  expect(malformed.status()).toBe(404);
});
