import { NextResponse, type NextRequest } from "next/server";

/**
 * Sends visitors without a session cookie to the login page before any page renders. This is
 * only the fast path: every page, action and route handler verifies the session itself, so a
 * forged or expired cookie gets no further than this check lets it.
 */
export function proxy(request: NextRequest) {
  const hasSession = request.cookies.getAll().some(({ name }) => /^(__Secure-)?authjs\.session-token(\.\d+)?$/.test(name));
  if (hasSession) return NextResponse.next();
  const login = new URL("/login", request.url);
  const next = `${request.nextUrl.pathname}${request.nextUrl.search}`;
  if (next !== "/") login.searchParams.set("next", next);
  return NextResponse.redirect(login);
}

export const config = {
  // API routes answer for themselves (401 JSON or a bearer token), and the login page, static
  // assets and the published signing keys (which a bundle's recipient checks) must stay
  // reachable without a session.
  matcher: ["/((?!api/|login|\\.well-known/|_next/static|_next/image|favicon\\.ico|robots\\.txt).*)"],
};
