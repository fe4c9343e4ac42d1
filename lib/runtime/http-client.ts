import { lookup as dnsLookup } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { pipeline, type Readable } from "node:stream";
import { constants as zlib, createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { Agent, EnvHttpProxyAgent, request, fetch as undiciFetch, type Dispatcher } from "undici";
import { parseAddressList, plainAddress, type AddressList } from "../address-list.mjs";
import type { HttpClient, HttpResponse } from "./types";

/** The code of the error for a request to an address HTTP loops and MCP servers over HTTP may not reach. */
export const BLOCKED_ADDRESS_CODE = "ERR_LOOPSTACKS_BLOCKED_ADDRESS";

/**
 * What HTTP loops and MCP servers over HTTP may not reach unless `LOOPSTACKS_HTTP_BLOCKED_ADDRESSES` says otherwise: the
 * link-local ranges, where cloud providers serve instance metadata and credentials, and the
 * metadata addresses outside them.
 */
export const DEFAULT_BLOCKED_ADDRESSES = "169.254.0.0/16, fe80::/10, fd00:ec2::254, 100.100.100.200";

function blockedAddressError(host: string, address: string): Error {
  const where = host === address ? host : `${host} (${address})`;
  return Object.assign(new Error(`${where} is an address loops may not reach (LOOPSTACKS_HTTP_BLOCKED_ADDRESSES)`), { code: BLOCKED_ADDRESS_CODE });
}

/** Throws `BLOCKED_ADDRESS_CODE` for a URL whose host is a blocked address written out; names are checked when connected to. */
function refuseBlockedAddressIn(url: string, blocked: AddressList): void {
  if (blocked.size === 0) return;
  const host = plainAddress(URL.parse(url)?.hostname ?? "");
  if (isIP(host) !== 0 && blocked.has(host)) throw blockedAddressError(host, host);
}

const defaultBlockedAddresses = parseAddressList(DEFAULT_BLOCKED_ADDRESSES);

/** How HTTP loops and MCP servers over HTTP reach the network: through a proxy or not, and what they may not reach. */
export interface EgressOptions {
  proxy?: HttpProxySettings | null;
  /** `DEFAULT_BLOCKED_ADDRESSES` when absent. */
  blockedAddresses?: AddressList;
}

/**
 * `fetch` for MCP servers over HTTP (`createMcpClientFactory({ fetch })`), on the terms HTTP
 * loops have: through the proxy, never to a blocked address, on a pool whose time limits are
 * the caller's (a server's event stream may stay open as long as its session).
 */
export function createLoopFetch(options: EgressOptions = {}): (url: string | URL, init?: RequestInit) => Promise<Response> {
  const blocked = options.blockedAddresses ?? defaultBlockedAddresses;
  const dispatcher = createHttpDispatcher(options.proxy ?? null, blocked);
  return async (url, init) => {
    refuseBlockedAddressIn(url.toString(), blocked);
    // undici's fetch is the one Node's is built from; its types name its own classes.
    return (await undiciFetch(url, { ...(init as object), dispatcher })) as unknown as Response;
  };
}

/**
 * The system's name lookup, refusing a name that resolves to a blocked address. It runs when
 * the connection is made, so a name cannot resolve to one address when checked and another
 * when connected to.
 */
function guardedLookup(blocked: AddressList): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, options, (error, address, family) => {
      if (error) return callback(error, address, family);
      const addresses = Array.isArray(address) ? address.map((a) => a.address) : [address];
      const hit = addresses.find((a) => blocked.has(a));
      if (hit !== undefined) return callback(blockedAddressError(hostname, hit), address, family);
      callback(null, address, family);
    });
  };
}

/** The content codings a response is decoded from, as `fetch` decodes them (and with its flush modes, so an empty or cut-off body decodes to what it holds). */
const DECODERS = new Map<string, () => NodeJS.ReadWriteStream>([
  ["gzip", () => createGunzip({ flush: zlib.Z_SYNC_FLUSH, finishFlush: zlib.Z_SYNC_FLUSH })],
  ["x-gzip", () => createGunzip({ flush: zlib.Z_SYNC_FLUSH, finishFlush: zlib.Z_SYNC_FLUSH })],
  ["deflate", () => createInflate({ flush: zlib.Z_SYNC_FLUSH, finishFlush: zlib.Z_SYNC_FLUSH })],
  ["br", () => createBrotliDecompress({ flush: zlib.BROTLI_OPERATION_FLUSH, finishFlush: zlib.BROTLI_OPERATION_FLUSH })],
]);

/** More content codings than this on one response are refused, as `fetch` refuses them. */
const MAX_CODINGS = 5;

const DECODING_FAILED = Symbol("loopstacks.decodingFailed");

/** Whether an error came from decoding a response's content coding (a corrupt or mislabelled body). */
export function isDecodingError(error: unknown): boolean {
  return error !== null && typeof error === "object" && DECODING_FAILED in error;
}

/** The proxy settings HTTP loops follow: `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` (either case), as curl reads them. */
export interface HttpProxySettings {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
}

/** The proxy settings in an environment, or null when it names no proxy. */
export function proxySettingsFrom(env: Record<string, string | undefined>): HttpProxySettings | null {
  const read = (name: string) => env[name.toLowerCase()] || env[name] || undefined;
  const settings = { httpProxy: read("HTTP_PROXY"), httpsProxy: read("HTTPS_PROXY"), noProxy: read("NO_PROXY") };
  return settings.httpProxy || settings.httpsProxy ? settings : null;
}

/**
 * The connection pool HTTP loops use: through the proxies `settings` name, or directly when
 * there are none. Plain HTTP is forwarded by the proxy (many proxies tunnel only to port 443),
 * HTTPS goes through a CONNECT tunnel, and hosts in `noProxy` are reached directly. The caller's
 * signal bounds each request: a loop's timeout may be longer than a pool's own.
 */
export function createHttpDispatcher(settings: HttpProxySettings | null, blocked: AddressList | null = null): Dispatcher {
  const timeouts = { headersTimeout: 0, bodyTimeout: 0 };
  if (settings) {
    // Through a proxy, the proxy resolves names: only address literals are checked (see createHttpClient).
    // undici's own reading of the variables is replaced by `settings`, so that what is used is what was given.
    const proxies = { httpProxy: settings.httpProxy ?? "", httpsProxy: settings.httpsProxy ?? "", noProxy: settings.noProxy ?? "" };
    return new EnvHttpProxyAgent({ ...timeouts, proxyTunnel: false, ...proxies });
  }
  return new Agent(blocked && blocked.size > 0 ? { ...timeouts, connect: { lookup: guardedLookup(blocked) } } : timeouts);
}

/**
 * HTTP loops' client: undici's request API on a connection pool of its own, through `proxy`
 * when one is given (see `proxySettingsFrom`). A request to a blocked address (by default
 * `DEFAULT_BLOCKED_ADDRESSES`) fails with the code `BLOCKED_ADDRESS_CODE` before anything is
 * sent: an address in the URL is checked at once, a name when its connection is made. A call costs a
 * fraction of the CPU of `fetch`, which builds WHATWG Request, Headers, Response and stream
 * objects around the same work — for a tree that fans out to many HTTP leaves, that is most of
 * what the runtime spends on them. Like `fetch`, it decodes gzip, deflate and brotli responses;
 * unlike it, it follows no redirect (the dispatcher follows them itself, to keep secrets on their
 * origin). Time limits come from the caller's signal alone.
 */
export function createHttpClient(options: EgressOptions & { dispatcher?: Dispatcher } = {}): HttpClient {
  const blocked = options.blockedAddresses ?? defaultBlockedAddresses;
  const dispatcher = options.dispatcher ?? createHttpDispatcher(options.proxy ?? null, blocked);
  return {
    async request(url, init): Promise<HttpResponse> {
      refuseBlockedAddressIn(url, blocked);
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
      // A body cut off by the connection reaches the decoders as this same error: it stays the
      // connection's failure, not a decoding one.
      let rawError: unknown = null;
      raw.on("error", (error) => (rawError = error));
      let body: Readable = raw;
      const codings = (header("content-encoding") ?? "")
        .split(",")
        .map((coding) => coding.trim().toLowerCase())
        .filter((coding) => coding !== "" && coding !== "identity");
      const hasBody = init.method !== "HEAD" && statusCode !== 204 && statusCode !== 304 && !(statusCode >= 300 && statusCode < 400);
      if (hasBody && codings.length > MAX_CODINGS) {
        raw.destroy();
        throw Object.assign(new Error(`The response has ${codings.length} content codings; at most ${MAX_CODINGS} are decoded`), { [DECODING_FAILED]: true });
      }
      if (hasBody && codings.length > 0 && codings.every((coding) => DECODERS.has(coding))) {
        // Codings apply in the order listed, so they come off in reverse.
        const decoders = codings.reverse().map((coding) => {
          const decoder = DECODERS.get(coding)!();
          decoder.on("error", (error: object) => {
            if (error !== rawError) Object.assign(error, { [DECODING_FAILED]: true });
          });
          return decoder;
        });
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
