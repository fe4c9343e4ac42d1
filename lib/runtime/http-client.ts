import { pipeline, type Readable } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { Agent, request, type Dispatcher } from "undici";
import type { HttpClient, HttpResponse } from "./types";

/** The content codings a response is decoded from, as `fetch` decodes them. */
const DECODERS: Record<string, () => NodeJS.ReadWriteStream> = {
  gzip: createGunzip,
  "x-gzip": createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/**
 * HTTP loops' client: undici's request API on a connection pool of its own. A call costs a
 * fraction of the CPU of `fetch`, which builds WHATWG Request, Headers, Response and stream
 * objects around the same work — for a tree that fans out to many HTTP leaves, that is most of
 * what the runtime spends on them. Like `fetch`, it decodes gzip, deflate and brotli responses;
 * unlike it, it follows no redirect (the dispatcher follows them itself, to keep secrets on their
 * origin). Time limits come from the caller's signal alone.
 */
export function createHttpClient(options: { dispatcher?: Dispatcher } = {}): HttpClient {
  // The caller's signal bounds each request: a loop's timeout may be longer than a pool's own.
  const dispatcher = options.dispatcher ?? new Agent({ headersTimeout: 0, bodyTimeout: 0 });
  return {
    async request(url, init): Promise<HttpResponse> {
      const response = await request(url, {
        dispatcher,
        method: init.method as Dispatcher.HttpMethod,
        headers: init.headers,
        body: init.body,
        signal: init.signal,
      });
      const { headers, statusCode } = response;
      const header = (name: string): string | null => {
        const value = headers[name];
        if (value === undefined) return null;
        return Array.isArray(value) ? value.join(", ") : value;
      };
      const raw = response.body;
      // Destroying an unfinished body reports an abort to its listeners: nobody is listening.
      raw.on("error", () => {});
      let body: Readable = raw;
      const codings = (header("content-encoding") ?? "")
        .split(",")
        .map((coding) => coding.trim().toLowerCase())
        .filter((coding) => coding !== "" && coding !== "identity");
      const hasBody = init.method !== "HEAD" && statusCode !== 204 && statusCode !== 304;
      if (hasBody && codings.length > 0 && codings.every((coding) => coding in DECODERS)) {
        // Codings apply in the order listed, so they come off in reverse.
        const decoders = codings.reverse().map((coding) => DECODERS[coding]!());
        body = pipeline([raw, ...decoders] as unknown as [Readable, NodeJS.ReadWriteStream], () => {}) as unknown as Readable;
      }
      return {
        status: statusCode,
        header,
        body,
        async discard() {
          body.on("error", () => {});
          body.destroy();
          raw.destroy();
        },
      };
    },
  };
}

/** The client runtimes use unless given another: one connection pool per process. */
export const defaultHttpClient = createHttpClient();
