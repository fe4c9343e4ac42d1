import { expect, test } from "@playwright/test";
import { signIn } from "./fixtures";

test("the cluster page shows workers, the queue and dead letters, and health reports the queue", async ({ page, request }) => {
  await signIn(page, "alice");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Cluster" }).click();
  await expect(page.getByRole("heading", { name: "Cluster" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Workers" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Dead letters" })).toBeVisible();
  await expect(page.getByText("a worker inside the console's own process")).toBeVisible();
  // Embedded, the engine's worker runs in the console process and heartbeats like any other.
  const workers = page.getByRole("table", { name: "Workers" });
  await expect(workers.getByRole("row")).toHaveCount(2);
  await expect(workers.getByRole("cell", { name: "live" })).toBeVisible();
  const health = await request.get("/api/health");
  expect(health.ok()).toBe(true);
  expect(await health.json()).toMatchObject({ status: "ok", database: "pglite", queue: { isInstalled: true, workers: { live: 1 }, deadLettersPending: 0 } });
});
