import { expect, type Page } from "@playwright/test";

/** The development directory's demo users; each one's password is their username. */
export type DemoUser = "ada" | "mo" | "alice" | "otto" | "vic";

export async function signIn(page: Page, username: DemoUser, password: string = username): Promise<void> {
  await page.goto("/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/loops$/);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `test-results/screenshots/${name}.png`, fullPage: true });
}
