import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "@playwright/test";

/**
 * End-to-end tests in Debian's Chromium against a production server on a fresh data
 * directory. The server is started with the product's own start command; build the console
 * first (`npx next build`) when it changed — `start` only builds when no build exists.
 * Set E2E_BASE_URL to test a server that is already running instead.
 */
const port = Number(process.env.E2E_PORT ?? 3210);
const externalBaseURL = process.env.E2E_BASE_URL;
// Workers re-read this file; the directory is chosen once, by the main process.
process.env.LOOPSTACKS_E2E_DATA_DIR ??= mkdtempSync(join(tmpdir(), "loopstacks-e2e-"));

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results/e2e",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: externalBaseURL ?? `http://127.0.0.1:${port}`,
    browserName: "chromium",
    viewport: { width: 1440, height: 900 },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  webServer: externalBaseURL
    ? undefined
    : {
        command: `node bin/loopstacks.mjs start --port ${port} --hostname 127.0.0.1`,
        url: `http://127.0.0.1:${port}/api/health`,
        timeout: 600_000,
        reuseExistingServer: false,
        stdout: "pipe",
        stderr: "pipe",
        env: {
          NODE_ENV: "production",
          NEXT_TELEMETRY_DISABLED: "1",
          PORT: String(port),
          LOOPSTACKS_DATA_DIR: process.env.LOOPSTACKS_E2E_DATA_DIR,
          // The demo users live in the development directory, which production refuses unless told.
          LOOPSTACKS_ALLOW_DEV_DIRECTORY: "true",
          // Slow enough that a run is still executing when its page opens, so the live view is exercised.
          LOOPSTACKS_SCRIPTED_MODEL_LATENCY_MS: "800",
        },
      },
});
