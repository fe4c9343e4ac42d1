import type { IncomingHttpHeaders } from "node:http";

/** The header that carries the client's address to the application; a client never sets it. */
export const CLIENT_ADDRESS_HEADER: "x-loopstacks-client-address";

import type { AddressList } from "../address-list.mjs";

export type TrustedProxies = AddressList;

/** Addresses and CIDR ranges, comma-separated; throws on an entry that is neither. */
export function parseTrustedProxies(value: string | undefined): TrustedProxies;
/** The client's address: the peer's, or through trusted proxies the right-most untrusted hop. */
export function resolveClientAddress(peer: string | undefined, forwardedFor: string | undefined, trusted: TrustedProxies): string | null;
/** Rewrites a request's forwarding headers before the application sees them. */
export function applyForwarding(headers: IncomingHttpHeaders, peer: string | undefined, trusted: TrustedProxies): void;
