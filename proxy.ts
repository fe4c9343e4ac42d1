import { NextResponse, type NextRequest } from "next/server";

/** The largest body a server action takes: `experimental.serverActions.bodySizeLimit` in next.config.js ("2mb"). */
export const ACTION_BODY_LIMIT_BYTES = 2 * 1024 * 1024;

/**
 * Paths the proxy sees that answer without a session: the login page and the published signing
 * keys (which a bundle's recipient checks). API routes and static assets never reach it (`config`).
 */
const PUBLIC_PATH = /^\/(login(\/|$)|\.well-known\/)/;

/**
 * Refuses a server action whose body is larger than actions take, with 413 and a plain reason,
 * before Next reads it (Next would answer 500). Then sends visitors without a session cookie to
 * the login page before any page renders. This is only the fast path: every page, action and
 * route handler verifies the session itself, so a forged or expired cookie gets no further than
 * this check lets it.
 */
export function proxy(request: NextRequest) {
  if (request.method === "POST" && request.headers.has("next-action")) {
    const length = Number(request.headers.get("content-length") ?? "0");
    if (length > ACTION_BODY_LIMIT_BYTES) {
      return new NextResponse(`The request body is ${length} bytes; a form sends at most ${ACTION_BODY_LIMIT_BYTES} bytes.\n`, {
        status: 413,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
  }
  if (PUBLIC_PATH.test(request.nextUrl.pathname)) return NextResponse.next();
  const hasSession = request.cookies.getAll().some(({ name }) => /^(__Secure-)?authjs\.session-token(\.\d+)?$/.test(name));
  if (hasSession) return NextResponse.next();
  const login = new URL("/login", request.url);
  const next = `${request.nextUrl.pathname}${request.nextUrl.search}`;
  if (next !== "/") login.searchParams.set("next", next);
  return NextResponse.redirect(login);
}

export const config = {
  // Every request but static assets and API routes: the login page's own action is held to the same body limit.
  matcher: ["/((?!api/|_next/|favicon\\.ico|robots\\.txt).*)"],
};
