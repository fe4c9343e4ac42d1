import NextAuth, { CredentialsSignin, type NextAuthConfig } from "next-auth";
import Credentials from "next-auth/providers/credentials";
import { resolveAuthSecret } from "../server/auth-secret";
import { clientAddress } from "../server/client-address";
import { getInstance } from "../server/instance";
import { authenticate } from "../services/authenticate";
import { sessionIdentitySchema, toSessionIdentity } from "./session";

/** Carries the reason a login failed to the login form, which decides what to show. */
class LoginRefused extends CredentialsSignin {
  constructor(reason: "invalid_credentials" | "throttled" | "directory_unavailable") {
    super(reason);
    this.code = reason;
  }
}

const SESSION_MAX_AGE_SECONDS = 8 * 60 * 60;

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
      jwt({ token, user }) {
        if (user?.identity) token.identity = user.identity;
        return token;
      },
      session({ session, token }) {
        const parsed = sessionIdentitySchema.safeParse(token.identity);
        return parsed.success ? { ...session, identity: parsed.data } : session;
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
