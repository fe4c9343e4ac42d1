import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { withInstance } from "../context";

const projectRoot = fileURLToPath(new URL("../../", import.meta.url));

function nextBin(): string {
  return createRequire(import.meta.url).resolve("next/dist/bin/next");
}

/** The console's own server (lib/server/console-server.mjs): Next's handler, with client addresses taken from the socket. */
const consoleServer = fileURLToPath(new URL("../../lib/server/console-server.mjs", import.meta.url));

/** Runs a Node.js script (Next's command line, or the console's server) as a child, passing on SIGINT and SIGTERM. */
function runNode(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: projectRoot, env, stdio: "inherit" });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      process.off("SIGINT", forward);
      process.off("SIGTERM", forward);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/**
 * The server builds its instance on the first request. Asking for its health as soon as it
 * listens starts the embedded engine's worker at once, so runs a crash cut off are taken up
 * again without waiting for a visitor.
 */
async function warmUp(hostname: string, port: string, serving: Promise<number>): Promise<void> {
  const host = hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname.includes(":") ? `[${hostname}]` : hostname;
  let isServing = true;
  const stop = () => (isServing = false);
  serving.then(stop, stop);
  for (let i = 0; i < 240 && isServing; i++) {
    try {
      const response = await fetch(`http://${host}:${port}/api/health`, { signal: AbortSignal.timeout(10_000) });
      await response.body?.cancel();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

export function register(program: Command): void {
  program
    .command("start")
    .description("Start the console and API (builds the console on first start, migrates and seeds the database)")
    .option("-p, --port <port>", "port to listen on (default: PORT or 3000)")
    .option("-H, --hostname <host>", "interface to listen on", "127.0.0.1")
    .option("--rebuild", "rebuild the console even if a build exists")
    .action(async (options: { port?: string; hostname: string; rebuild?: boolean }) => {
      // Next serves a build only with NODE_ENV=production; whether this install is in production
      // is the operator's call, carried separately (it gates the development directory).
      const mode = process.env.LOOPSTACKS_MODE ?? (process.env.NODE_ENV === "production" ? "production" : "development");
      const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1", NODE_ENV: "production" as const, LOOPSTACKS_MODE: mode, ...(options.port ? { PORT: options.port } : {}) };
      const port = env.PORT ?? "3000";
      if (options.rebuild || !existsSync(join(projectRoot, ".next", "BUILD_ID"))) {
        console.log("Building the console (first start only; takes a few minutes)…");
        const code = await runNode([nextBin(), "build"], env);
        if (code !== 0) {
          process.exitCode = code;
          return;
        }
      }
      // Migrate and seed here, then let the server open the database itself: embedded mode
      // allows one process per data directory.
      const previous = process.env.PORT;
      process.env.PORT = port;
      await withInstance(async (instance) => {
        console.log(`Database: ${instance.database.kind} at ${instance.database.location}`);
        console.log(`Model: ${instance.scriptedModel ? "built-in scripted model (demo answers; set ANTHROPIC_API_KEY for a real model)" : instance.config.model.mode}`);
      });
      if (previous === undefined) delete process.env.PORT;
      else process.env.PORT = previous;
      console.log(`LoopStacks console: http://${options.hostname === "0.0.0.0" ? "localhost" : options.hostname}:${port}`);
      const serving = runNode([consoleServer, "--port", port, "--hostname", options.hostname], env);
      void warmUp(options.hostname, port, serving);
      process.exitCode = await serving;
    });
}
