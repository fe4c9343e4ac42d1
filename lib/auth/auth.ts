import { randomUUID } from "node:crypto";
import NextAuth, { CredentialsSignin, type NextAuthConfig } from "next-auth";
import Credentials from "next-auth/providers/credentials";
import { resolveAuthSecret } from "../server/auth-secret";
import { clientAddress } from "../server/client-address";
import { getInstance } from "../server/instance";
import { authenticate } from "../services/authenticate";
import { isSessionLive } from "../services/check-session";
import { endSession } from "../services/end-session";
import { refusalCode } from "./refusal";
import { SESSION_MAX_AGE_SECONDS, sessionIdentitySchema, toSessionIdentity } from "./session";

/** Carries the reason a login failed to the login form, which decides what to show. */
class LoginRefused extends CredentialsSignin {
  constructor(reason: Parameters<typeof refusalCode>[0]) {
    super(reason);
    this.code = refusalCode(reason);
  }
}

function config(): NextAuthConfig {
  return {
    // Read lazily, at the first request, so that building the console writes nothing.
    secret: resolveAuthSecret(),
    // Self-hosted behind whatever host name the customer gives it.
    trustHost: true,
    session: { strategy: "jwt", maxAge: SESSION_MAX_AGE_SECONDS },
    pages: { signIn: "/login", error: "/login" },
    providers: [
      Credentials({
        credentials: { username: { label: "Username" }, password: { label: "Password", type: "password" } },
        async authorize(credentials, request) {
          const instance = await getInstance();
          const result = await authenticate(
            { db: instance.database.db, directory: instance.directory },
            { username: credentials.username, password: credentials.password, clientAddress: clientAddress(request.headers) },
          );
          if (!result.ok) throw new LoginRefused(result.error);
          const identity = toSessionIdentity(result.identity);
          return { id: identity.subject, name: identity.displayName ?? identity.subject, identity };
        },
      }),
    ],
    callbacks: {
      async jwt({ token, user }) {
        if (user?.identity) {
          token.identity = user.identity;
          token.session = { id: randomUUID(), startedAt: Math.floor(Date.now() / 1000) };
          return token;
        }
        // Every auth() comes through here, so a signed-out or outlived session is anonymous
        // to pages, actions, route handlers and the login page alike.
        const instance = await getInstance();
        return (await isSessionLive({ db: instance.database.db }, token.session)) ? token : null;
      },
      session({ session, token }) {
        const parsed = sessionIdentitySchema.safeParse(token.identity);
        return parsed.success ? { ...session, identity: parsed.data } : session;
      },
    },
    events: {
      async signOut(message) {
        if (!("token" in message) || !message.token) return;
        const instance = await getInstance();
        await endSession({ db: instance.database.db }, message.token);
      },
    },
    logger: {
      error(error) {
        // A refused login is an expected outcome, already recorded in the audit log.
        if (error instanceof CredentialsSignin || (error as { type?: string }).type === "CredentialsSignin") return;
        console.error(error);
      },
    },
  };
}

export const { handlers, auth, signIn, signOut } = NextAuth(() => config());
export { CredentialsSignin };
