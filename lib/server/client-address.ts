/**
 * The address a login came from, for throttling and the audit log. Next.js puts the socket
 * address into `x-forwarded-for` when the header is absent; behind a reverse proxy the
 * right-most entry is the one the nearest proxy appended, the hardest for a client to forge.
 */
export function clientAddress(headers: Headers): string | null {
  const forwarded = headers.get("x-forwarded-for");
  const last = forwarded?.split(",").map((part) => part.trim()).filter(Boolean).at(-1);
  // No address at all: null, so such logins are throttled per username only instead of
  // sharing one address counter that a few failures would block for everyone.
  return (last ?? headers.get("x-real-ip"))?.slice(0, 100) ?? null;
}
