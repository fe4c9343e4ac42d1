import { Agent, request } from "undici";
import type { HttpClient, HttpResponse } from "./types";

/**
 * HTTP loops' client: undici's request API on a connection pool of its own. A call costs a
 * fraction of the CPU of `fetch`, which builds WHATWG Request, Headers, Response and stream
 * objects around the same work — for a tree that fans out to many HTTP leaves, that is most of
 * what the runtime spends on them. Redirects are not followed (the dispatcher follows them
 * itself, to keep secrets on their origin); time limits come from the caller's signal.
 */
export function createHttpClient(): HttpClient & { close(): Promise<void> } {
  // The caller's signal bounds each request; the pool's own header and body timeouts would cut
  // a loop whose configured timeout is longer.
  const agent = new Agent({ headersTimeout: 0, bodyTimeout: 0 });
  return {
    async request(url, init): Promise<HttpResponse> {
      const response = await request(url, {
        dispatcher: agent,
        method: init.method as "GET",
        headers: init.headers,
        body: init.body,
        signal: init.signal,
      });
      const { headers, body } = response;
      return {
        status: response.statusCode,
        header(name) {
          const value = headers[name];
          if (value === undefined) return null;
          return Array.isArray(value) ? value.join(", ") : value;
        },
        body,
        async discard() {
          // Destroying an unfinished body reports an abort to its listeners: nobody is listening.
          body.on("error", () => {});
          body.destroy();
        },
      };
    },
    close: () => agent.close(),
  };
}

/** The client runtimes use unless given another: one pool per process, like `fetch`'s. */
export const defaultHttpClient = createHttpClient();
