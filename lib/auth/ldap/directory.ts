import { randomUUID } from "node:crypto";
import { isIP, connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { Client, NoSuchObjectError, ResultCodeError, SizeLimitExceededError, type Entry } from "ldapts";
import { normalizeDn } from "../../../db/queries/realms";
import { AppError } from "../../errors";
import type { AuthenticationResult, Directory, DirectoryUser } from "../directory";
import { fillFilter, type LdapConfig, type LdapServer } from "./config";

export interface LdapDirectoryOptions {
  /** Where operational warnings go (a server down, an ambiguous filter). Never receives a password. */
  warn?: (message: string) => void;
}

/** Filters with many alternatives are split so that no single request grows without bound. */
const OR_CHUNK = 50;

/** A failure of the server rather than of the credentials: the next server is tried. */
class ServerFailure extends Error {}

type Found = { kind: "found"; entry: Entry } | { kind: "none" } | { kind: "ambiguous"; count: number };

function attributeValues(entry: Entry, name: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
  if (!key || key === "dn") return [];
  const value = entry[key];
  const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return values.map((v) => (Buffer.isBuffer(v) ? v.toString("utf8") : v));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0]! : String(error);
}

/**
 * The production directory: ldapts against one of several LDAP servers, tried in order.
 *
 * A login is: search bind with the service account, search the user with an escaped filter,
 * bind as the user with the DN the server returned (never one built from input), bind back
 * as the service account and read the groups. An unknown user costs the same round trips as
 * a wrong password (a bind to a DN that does not exist), so the two cannot be told apart by
 * their answer or their timing.
 */
export function createLdapDirectory(config: LdapConfig, options: LdapDirectoryOptions = {}): Directory {
  const warn = options.warn ?? ((message: string) => console.warn(`[ldap] ${message}`));
  const tlsOptions: ConnectionOptions = { minVersion: "TLSv1.2", ...(config.ca !== undefined ? { ca: config.ca } : {}) };
  const absentDn = `cn=loopstacks-absent-${randomUUID()},${config.users.baseDn}`;

  /** Opens a connection (TLS as configured), runs `work`, and always closes it. */
  async function withServer<T>(server: LdapServer, work: (client: Client) => Promise<T>): Promise<T> {
    const sockets = new Set<Socket>();
    const track = <S extends Socket>(socket: S): S => {
      sockets.add(socket);
      return socket;
    };
    const client = new Client({
      url: server.url,
      connectTimeout: config.connectTimeoutMs,
      timeout: config.requestTimeoutMs,
      // Passing tlsOptions to the constructor makes ldapts speak TLS from the first byte, which is
      // right for ldaps:// only; StartTLS gets its options at the upgrade.
      ...(server.security === "ldaps" ? { tlsOptions } : {}),
      createConnection: ((...args: unknown[]) => track((netConnect as (...a: unknown[]) => Socket)(...args))) as typeof netConnect,
      createSecureConnection: ((...args: unknown[]) => track((tlsConnect as (...a: unknown[]) => Socket)(...args))) as typeof tlsConnect,
    });
    const destroy = () => {
      for (const socket of sockets) socket.destroy();
    };
    try {
      if (server.security === "starttls") {
        // ldapts bounds the StartTLS request but not the TLS handshake that follows it.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          client.startTLS({ ...tlsOptions, host: server.host, ...(isIP(server.host) ? {} : { servername: server.host }) }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              destroy();
              reject(new ServerFailure("StartTLS handshake timed out"));
            }, config.connectTimeoutMs + config.requestTimeoutMs);
          }),
        ]).finally(() => clearTimeout(timer));
      }
      return await work(client);
    } finally {
      await client.unbind().catch(() => {});
      destroy();
    }
  }

  async function serviceBind(client: Client): Promise<void> {
    if (config.bind) await client.bind(config.bind.dn, config.bind.password.reveal());
  }

  async function findUser(client: Client, username: string): Promise<Found> {
    const attributes = [config.users.usernameAttribute, config.users.displayNameAttribute, config.users.emailAttribute];
    if (config.groups.membership === "memberof") attributes.push(config.groups.memberOfAttribute);
    let entries: Entry[];
    try {
      ({ searchEntries: entries } = await client.search(config.users.baseDn, {
        scope: "sub",
        filter: fillFilter(config.users.filter, { username }),
        attributes,
        // Two are enough to know the filter is ambiguous.
        sizeLimit: 2,
        timeLimit: Math.ceil(config.requestTimeoutMs / 1000),
      }));
    } catch (error) {
      if (error instanceof SizeLimitExceededError) return { kind: "ambiguous", count: 3 };
      throw error;
    }
    if (entries.length === 0) return { kind: "none" };
    if (entries.length > 1) return { kind: "ambiguous", count: entries.length };
    return { kind: "found", entry: entries[0]! };
  }

  async function searchGroupDns(client: Client, filter: string): Promise<string[]> {
    const { searchEntries } = await client.search(config.groups.baseDn!, {
      scope: "sub",
      filter,
      attributes: ["1.1"],
      paged: { pageSize: config.pageSize },
      timeLimit: Math.ceil(config.requestTimeoutMs / 1000),
    });
    return searchEntries.map((e) => e.dn);
  }

  /** The groups that directly contain each of `dns`. */
  async function parentGroups(client: Client, dns: string[], username: string): Promise<string[]> {
    if (config.groups.membership === "memberof") {
      const perGroup = await Promise.all(
        dns.map(async (dn) => {
          try {
            const { searchEntries } = await client.search(dn, { scope: "base", attributes: [config.groups.memberOfAttribute] });
            return searchEntries.flatMap((e) => attributeValues(e, config.groups.memberOfAttribute));
          } catch (error) {
            // A memberOf value can point at a group the service account may not read, or one deleted since.
            if (error instanceof NoSuchObjectError) return [];
            throw error;
          }
        }),
      );
      return perGroup.flat();
    }
    const found: string[] = [];
    for (let i = 0; i < dns.length; i += OR_CHUNK) {
      const parts = dns.slice(i, i + OR_CHUNK).map((dn) => fillFilter(config.groups.filter, { dn, username }));
      found.push(...(await searchGroupDns(client, parts.length === 1 ? parts[0]! : `(|${parts.join("")})`)));
    }
    return found;
  }

  async function resolveGroups(client: Client, entry: Entry, username: string): Promise<string[]> {
    const { groups } = config;
    const direct =
      groups.membership === "memberof" && groups.nested !== "in-chain"
        ? attributeValues(entry, groups.memberOfAttribute)
        : await searchGroupDns(client, fillFilter(groups.filter, { dn: entry.dn, username }));
    const seen = new Map<string, string>();
    for (const dn of direct) seen.set(normalizeDn(dn), dn);
    if (groups.nested === "recursive") {
      let frontier = [...seen.values()];
      // Each level follows groups-within-groups once; the seen set also ends cycles early.
      for (let depth = 1; depth <= groups.maxDepth && frontier.length > 0; depth++) {
        const next: string[] = [];
        for (const dn of await parentGroups(client, frontier, username)) {
          const key = normalizeDn(dn);
          if (!seen.has(key)) {
            seen.set(key, dn);
            next.push(dn);
          }
        }
        frontier = next;
      }
    }
    return [...seen.keys()].sort();
  }

  function toUser(entry: Entry, fallbackUsername: string, groups: string[]): DirectoryUser {
    // The directory's own spelling: "ALICE" and "alice" are one person, and one throttle key.
    const username = attributeValues(entry, config.users.usernameAttribute)[0] ?? fallbackUsername;
    const email = attributeValues(entry, config.users.emailAttribute)[0];
    return {
      username,
      dn: entry.dn,
      displayName: attributeValues(entry, config.users.displayNameAttribute)[0] ?? username,
      ...(email ? { email } : {}),
      groups,
    };
  }

  /** Runs `attempt` against each server in order until one answers. */
  async function onFirstAvailable<T>(what: string, attempt: (client: Client) => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
    for (const server of config.servers) {
      try {
        return { ok: true, value: await withServer(server, attempt) };
      } catch (error) {
        warn(`${what}: ${server.url} failed (${describe(error)})${server === config.servers.at(-1) ? "" : "; trying the next server"}`);
      }
    }
    return { ok: false };
  }

  return {
    kind: "ldap",

    async authenticate(username, password): Promise<AuthenticationResult> {
      // An empty password is an unauthenticated bind, which many servers (Active Directory
      // among them) answer with success.
      if (username.length === 0 || password.length === 0) return { ok: false, reason: "invalid_credentials" };
      const outcome = await onFirstAvailable("login", async (client): Promise<AuthenticationResult> => {
        await serviceBind(client);
        const found = await findUser(client, username);
        let bindDn: string;
        if (found.kind === "found") {
          bindDn = found.entry.dn;
        } else {
          if (found.kind === "ambiguous") warn(`login: the user filter matched ${found.count} or more entries for one name; refusing it`);
          bindDn = absentDn;
        }
        try {
          await client.bind(bindDn, password);
        } catch (error) {
          // Any refusal of the user's bind (wrong password, locked, expired) is one answer; only a
          // broken connection counts against the server.
          if (error instanceof ResultCodeError) return { ok: false, reason: "invalid_credentials" };
          throw error;
        }
        if (found.kind !== "found") return { ok: false, reason: "invalid_credentials" };
        await serviceBind(client);
        return { ok: true, user: toUser(found.entry, username, await resolveGroups(client, found.entry, username)) };
      });
      return outcome.ok ? outcome.value : { ok: false, reason: "directory_unavailable" };
    },

    async lookup(username) {
      if (username.length === 0) return null;
      const outcome = await onFirstAvailable("group re-check", async (client) => {
        await serviceBind(client);
        const found = await findUser(client, username);
        if (found.kind !== "found") return null;
        return toUser(found.entry, username, await resolveGroups(client, found.entry, username));
      });
      if (!outcome.ok) throw new AppError("unavailable", "The LDAP directory cannot be reached");
      return outcome.value;
    },
  };
}
