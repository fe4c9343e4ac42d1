import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer, connect } from "node:net";
import { dirname, join } from "node:path";

/**
 * The real `@modelcontextprotocol/server-everything` (tools `echo` {message}, `get-sum` {a, b},
 * `get-env`, `get-structured-content`, `trigger-long-running-operation` …), for tests that
 * need an MCP server.
 */

export interface EverythingHttpServer {
  /** The Streamable HTTP endpoint, e.g. `http://127.0.0.1:41234/mcp`. */
  url: string;
  close(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 20_000;

let entryFile: string | undefined;

/** The package's bin script; it takes the transport as its first argument: stdio, sse or streamableHttp. */
export function everythingEntryFile(): string {
  if (entryFile) return entryFile;
  const require = createRequire(import.meta.url);
  const packageJsonPath = require.resolve("@modelcontextprotocol/server-everything/package.json");
  const packageJson = JSON.parse(readFileSync(packageJsonPath, "utf8")) as { bin?: string | Record<string, string>; main?: string };
  const bin = typeof packageJson.bin === "string" ? packageJson.bin : Object.values(packageJson.bin ?? {})[0];
  const relative = bin ?? packageJson.main;
  if (!relative) throw new Error("@modelcontextprotocol/server-everything declares neither bin nor main");
  entryFile = join(dirname(packageJsonPath), relative);
  return entryFile;
}

export function everythingStdioServer(): { transport: "stdio"; command: string; args: string[]; env: Record<string, string> } {
  return { transport: "stdio", command: process.execPath, args: [everythingEntryFile(), "stdio"], env: {} };
}

/**
 * Spawns server-everything in Streamable HTTP mode on a free port (it reads `PORT`; it binds
 * every interface, the URL uses loopback) and resolves once it accepts connections.
 */
export async function startEverythingHttpServer(): Promise<EverythingHttpServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [everythingEntryFile(), "streamableHttp"], {
    env: { NODE_ENV: process.env.NODE_ENV, PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
  };

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server-everything exited with code ${child.exitCode}:\n${stderr}`);
    if (await accepts(port)) break;
    if (Date.now() > deadline) {
      await close();
      throw new Error(`server-everything did not listen on port ${port} within ${STARTUP_TIMEOUT_MS} ms:\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `http://127.0.0.1:${port}/mcp`, close };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (address && typeof address === "object" ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
