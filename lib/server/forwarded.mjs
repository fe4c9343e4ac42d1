// Who a request came from, decided by the console's own HTTP server (lib/server/console-server.mjs)
// before Next.js sees the request. Plain JavaScript, so that the server runs it as it is; its
// types are in forwarded.d.mts.
import { isIP } from "node:net";
import { parseAddressList, plainAddress } from "../address-list.mjs";

/** The header that carries the client's address to the application; a client never sets it. */
export const CLIENT_ADDRESS_HEADER = "x-loopstacks-client-address";

/** Headers through which a proxy says who the client was, and how it was reached. */
const FORWARDING_HEADERS = ["x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "x-real-ip", "forwarded"];

/**
 * The proxies whose forwarding headers are believed, from `LOOPSTACKS_TRUSTED_PROXIES`:
 * addresses and CIDR ranges, separated by commas (`127.0.0.1, 10.0.0.0/8, fd00::/8`).
 * Throws on an entry that is neither, naming it.
 */
export function parseTrustedProxies(value) {
  return parseAddressList(value);
}

/**
 * The client's address: the peer's, unless the peer is a trusted proxy; then the right-most
 * address in `X-Forwarded-For` that is not one (each proxy appends the address it was reached
 * from, so everything left of the first untrusted hop may have been written by the client).
 * Null when that entry is not an address.
 */
export function resolveClientAddress(peer, forwardedFor, trusted) {
  if (!peer) return null;
  let client = plainAddress(peer);
  if (!trusted.has(client)) return client;
  const hops = (forwardedFor ?? "")
    .split(",")
    .map((hop) => hop.trim())
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    client = plainAddress(hops[i]);
    if (isIP(client) === 0) return null;
    if (!trusted.has(client)) return client;
  }
  return client;
}

/**
 * Rewrites a request's headers (Node's `IncomingMessage.headers`) before the application sees
 * them: `x-loopstacks-client-address` and `x-forwarded-for` become the client's address alone,
 * and a peer that is not a trusted proxy has every other forwarding header removed, so that
 * no client chooses the address its logins are throttled and audited under, or the host and
 * scheme the application believes it was reached at.
 */
export function applyForwarding(headers, peer, trusted) {
  const forwardedFor = headers["x-forwarded-for"];
  const client = resolveClientAddress(peer, Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor, trusted);
  delete headers[CLIENT_ADDRESS_HEADER];
  if (!peer || !trusted.has(peer)) for (const name of FORWARDING_HEADERS) delete headers[name];
  if (client) {
    headers[CLIENT_ADDRESS_HEADER] = client;
    headers["x-forwarded-for"] = client;
  } else {
    delete headers["x-forwarded-for"];
  }
}
