import { CLIENT_ADDRESS_HEADER } from "./forwarded.mjs";

/**
 * The address a login came from, for throttling and the audit log, as the console's own server
 * decided it from the socket and the trusted proxies (lib/server/forwarded.mjs); it replaces
 * whatever a client sent under that name. Null when the console is not served by it
 * (`next dev`): such logins are throttled per username only, instead of by an address a client
 * could choose.
 */
export function clientAddress(headers: Headers): string | null {
  return headers.get(CLIENT_ADDRESS_HEADER)?.slice(0, 100) || null;
}
