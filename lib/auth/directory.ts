/** A person as the directory reports them: the DN the server returned and their group DNs. */
export interface DirectoryUser {
  /** The login name (uid, sAMAccountName…). */
  username: string;
  dn: string;
  displayName: string;
  email?: string;
  /** Group DNs, normalised (lower case, no spaces around separators). */
  groups: string[];
}

export type AuthenticationResult =
  | { ok: true; user: DirectoryUser }
  /** One reason for unknown users and wrong passwords alike, so neither can be told apart. */
  | { ok: false; reason: "invalid_credentials" | "directory_unavailable" };

/**
 * Where people and their groups come from: LDAP in production, a development directory file
 * on an embedded install. Both go through the same group → realm role mapping.
 */
export interface Directory {
  readonly kind: "ldap" | "dev-directory";
  authenticate(username: string, password: string): Promise<AuthenticationResult>;
  /** Current groups of a known user (re-checked at invocation time); null when the user is gone. */
  lookup(username: string): Promise<DirectoryUser | null>;
  close?(): Promise<void>;
}
