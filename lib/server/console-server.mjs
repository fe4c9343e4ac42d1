// The console's HTTP server, started by `loopstacks start`: Next.js's request handler behind a
// plain Node.js server of our own, so that who a request came from is decided from the socket
// (and from `LOOPSTACKS_TRUSTED_PROXIES`), never from headers a client can write. Next's own
// server keeps a client's `X-Forwarded-For`. Plain JavaScript, run by Node as it is.
//
//   node lib/server/console-server.mjs --port 3000 --hostname 127.0.0.1
import { createServer } from "node:http";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import next from "next";
import { applyForwarding, parseTrustedProxies } from "./forwarded.mjs";

const { values } = parseArgs({ options: { port: { type: "string" }, hostname: { type: "string" } } });
const port = Number(values.port ?? process.env.PORT ?? 3000);
const hostname = values.hostname ?? "127.0.0.1";
const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

let trusted;
try {
  trusted = parseTrustedProxies(process.env.LOOPSTACKS_TRUSTED_PROXIES);
} catch (error) {
  console.error(`LOOPSTACKS_TRUSTED_PROXIES: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(2);
}

const app = next({ dev: false, dir: projectRoot, hostname, port });
await app.prepare();
const handle = app.getRequestHandler();

const server = createServer((req, res) => {
  applyForwarding(req.headers, req.socket.remoteAddress, trusted);
  handle(req, res).catch((error) => {
    console.error("A request failed:", error);
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
    res.end("Internal server error");
  });
});
server.on("error", (error) => {
  console.error(`The console could not listen on ${hostname}:${port}: ${error.message}`);
  process.exit(1);
});
server.listen(port, hostname, () => {
  if (trusted.size > 0) console.log(`Believing forwarding headers from the proxies in LOOPSTACKS_TRUSTED_PROXIES (${trusted.size} address(es) or range(s)).`);
});

// Requests in flight finish; then the process ends.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 10_000).unref();
  });
}
