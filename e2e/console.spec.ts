import { expect, test } from "@playwright/test";
import { screenshot, signIn } from "./fixtures";

test("an operator runs demo-triage and walks its Loop Stack Tree", async ({ page }) => {
  await signIn(page, "alice");
  await expect(page.getByText("Scripted model — demo answers, no real LLM")).toBeVisible();
  await expect(page.getByText("Alice Operator")).toBeVisible();
  await expect(page.getByRole("link", { name: "demo-triage" })).toBeVisible();
  await screenshot(page, "loops");

  await page.getByRole("link", { name: "demo-triage" }).click();
  await expect(page.getByRole("heading", { name: "demo-triage" })).toBeVisible();
  await page.getByLabel("Input (JSON)").fill('{"request":"chest pain"}');
  await page.getByRole("button", { name: "Run", exact: true }).click();

  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}/);
  if (process.env.E2E_BASE_URL === undefined) {
    // The scripted model answers slowly here: the page opens while the run executes and follows it live.
    await expect(page.getByRole("status", { name: "Run status: running" })).toBeVisible();
    await expect(page.getByText("Live — updating every second")).toBeVisible();
  }
  await expect(page.getByRole("status", { name: "Run status: succeeded" })).toBeVisible({ timeout: 45_000 });
  await expect(page.getByText("Live — updating every second")).toBeHidden();

  // The nested list sits beside the graph and the timeline.
  await page.getByRole("tab", { name: "List" }).click();
  const tree = page.getByRole("tree", { name: "Trace" });
  const root = tree.getByRole("treeitem", { name: "demo-triage succeeded" });
  await expect(root).toBeVisible();
  for (const child of ["demo-case-lookup", "demo-echo", "demo-health-check"]) {
    await expect(tree.getByRole("treeitem", { name: `${child} succeeded` })).toBeVisible();
  }

  // Collapse and expand the root frame with the keyboard.
  await root.focus();
  await page.keyboard.press("ArrowLeft");
  await expect(root).toHaveAttribute("aria-expanded", "false");
  await expect(tree.getByRole("treeitem", { name: "demo-echo succeeded" })).toBeHidden();
  await page.keyboard.press("ArrowRight");
  await expect(root).toHaveAttribute("aria-expanded", "true");
  await expect(tree.getByRole("treeitem", { name: "demo-echo succeeded" })).toBeVisible();

  // The root frame's details: its prompt version and the tool calls that spawned the children.
  await root.click();
  const details = page.getByRole("region", { name: "Frame details" });
  await expect(details.getByRole("heading", { name: "demo-triage" })).toBeVisible();
  await expect(details.getByText("Prompt version")).toBeVisible();
  await expect(details.getByText(/^v1\b/)).toBeVisible();
  const calls = details.getByRole("list", { name: "Tool calls" });
  await expect(calls.getByRole("listitem", { name: "Tool call lookup_cases" })).toBeVisible();
  await expect(calls.getByRole("listitem", { name: "Tool call echo_note" })).toBeVisible();
  await expect(calls.getByRole("listitem", { name: "Tool call check_health" })).toBeVisible();
  await screenshot(page, "run");

  // A tool call links to the child frame it spawned; the selection is a deep link.
  await calls.getByRole("button", { name: /Open child frame demo-case-lookup/ }).click();
  await expect(details.getByRole("heading", { name: "demo-case-lookup" })).toBeVisible();
  await expect(tree.getByRole("treeitem", { name: "demo-case-lookup succeeded" })).toHaveAttribute("aria-selected", "true");
  await expect(page).toHaveURL(/[?&]frame=[0-9a-f-]{36}/);
  await page.reload();
  await page.getByRole("tab", { name: "List" }).click();
  await expect(page.getByRole("region", { name: "Frame details" }).getByRole("heading", { name: "demo-case-lookup" })).toBeVisible();
  await screenshot(page, "run-child-frame");

  // The run is listed with its loop and status.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Runs" }).click();
  await expect(page.getByRole("link", { name: /of demo-triage, succeeded$/ }).first()).toBeVisible();
  await screenshot(page, "runs");

  await page.emulateMedia({ colorScheme: "dark" });
  await page.getByRole("link", { name: /of demo-triage, succeeded$/ }).first().click();
  await page.getByRole("tab", { name: "List" }).click();
  await expect(page.getByRole("tree", { name: "Trace" })).toBeVisible();
  await screenshot(page, "run-dark");
});

test("an input that breaks the loop's input schema is refused in the form, naming the field at fault", async ({ page }) => {
  await signIn(page, "alice");
  await page.goto("/loops/demo-echo");
  await expect(page.getByRole("heading", { name: "demo-echo" })).toBeVisible();
  await page.getByLabel("Input (JSON)").fill('{"message": 42}');
  await page.getByRole("button", { name: "Run", exact: true }).click();
  const alert = page.getByRole("form", { name: "Run demo-echo" }).getByRole("alert");
  await expect(alert).toContainText("Input does not match demo-echo's input schema");
  await expect(alert).toContainText("message: must be string");
  await expect(page).toHaveURL(/\/loops\/demo-echo$/);
});

test("a run or loop that does not exist, or is out of reach, is a plain not-found page", async ({ page }) => {
  await signIn(page, "alice");
  for (const path of ["/runs/00000000-0000-4000-8000-000000000000", "/runs/not-a-run-id", "/loops/no-such-loop"]) {
    await page.goto(path);
    await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();
  }
});

test("a viewer cannot run a loop, not even by posting the action directly", async ({ page }) => {
  await signIn(page, "vic");
  await page.getByRole("link", { name: "demo-triage" }).click();
  const run = page.getByRole("button", { name: "Run", exact: true });
  await expect(run).toBeDisabled();
  await expect(page.getByText("needs the operator, maintainer or admin role")).toBeVisible();

  // Re-enable the button in the page and submit: the server action must refuse on its own.
  await run.evaluate((button) => ((button as HTMLButtonElement).disabled = false));
  const posted = page.waitForRequest((request) => request.method() === "POST" && request.headers()["next-action"] !== undefined);
  await run.click();
  await posted;
  await expect(page.getByRole("form", { name: "Run demo-triage" }).getByRole("alert")).toContainText("does not allow");
  await expect(page).toHaveURL(/\/loops\/demo-triage$/);

  await page.goto("/runs?caller=vic");
  await expect(page.getByRole("heading", { name: "No runs match these filters" })).toBeVisible();
});

test("a wrong password or an unknown user gets one generic error", async ({ page }) => {
  await page.goto("/login");
  await page.getByLabel("Username").fill("alice");
  await page.getByLabel("Password").fill("not-her-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("form", { name: "Sign in" }).getByRole("alert")).toHaveText("Incorrect username or password, or too many attempts. Try again later.");

  await page.getByLabel("Username").fill("nobody-here");
  await page.getByLabel("Password").fill("whatever");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("form", { name: "Sign in" }).getByRole("alert")).toHaveText("Incorrect username or password, or too many attempts. Try again later.");
  await expect(page).toHaveURL(/\/login/);
});

test("anonymous visitors are sent to the login page and the API refuses them", async ({ page, request }) => {
  await page.goto("/runs");
  await expect(page).toHaveURL(/\/login\?next=%2Fruns$/);
  await expect(page.getByRole("heading", { name: "Sign in to LoopStacks" })).toBeVisible();

  const run = await request.get("/api/runs/00000000-0000-4000-8000-000000000000");
  expect(run.status()).toBe(401);
  const health = await request.get("/api/health");
  expect(health.status()).toBe(200);
  expect(await health.json()).toMatchObject({ status: "ok", database: "pglite", model: "scripted" });

  // The keys that verify compliance bundles are public: a bundle's recipient has no account.
  const keys = await request.get("/.well-known/loopstacks-keys.json", { maxRedirects: 0 });
  expect(keys.status()).toBe(200);
  expect(await keys.json()).toMatchObject({ keys: expect.any(Array) as unknown[] });
});

test("a server action posted with a body larger than actions take gets 413 and a plain reason", async ({ page }) => {
  await signIn(page, "alice");
  const tooLarge = "x".repeat(2 * 1024 * 1024 + 1);
  for (const path of ["/loops/demo-echo", "/login"]) {
    const response = await page.request.post(path, { headers: { "next-action": "0123456789abcdef", "content-type": "text/plain" }, data: tooLarge, maxRedirects: 0 });
    expect(response.status(), path).toBe(413);
    expect(await response.text()).toContain("a form sends at most 2097152 bytes");
  }
});

test("signing in returns to the page that was asked for, and signing out ends the session", async ({ page }) => {
  await page.goto("/runs");
  await page.getByLabel("Username").fill("otto");
  await page.getByLabel("Password").fill("otto");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/runs$/);
  await expect(page.getByText("auditor · demo")).toBeVisible();
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto("/loops");
  await expect(page).toHaveURL(/\/login/);
});
