import { sql } from "drizzle-orm";
import {
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

/** A governance boundary. Loops, runs, prompts and exports belong to exactly one realm. */
export const realms = pgTable("realms", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  description: text("description").notNull().default(""),
  /** Realm policy, e.g. `{ "export": { "payloads": "raw" | "hashed" } }`. */
  settings: jsonb("settings").$type<Record<string, unknown>>().notNull().default({}),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

/** An LDAP group (normalised, lower-case DN) holds a role in a realm. */
export const realmMappings = pgTable(
  "realm_mappings",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    realmId: text("realm_id")
      .notNull()
      .references(() => realms.id, { onDelete: "cascade" }),
    groupDn: text("group_dn").notNull(),
    role: text("role").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("realm_mappings_unique").on(t.realmId, t.groupDn, t.role),
    index("realm_mappings_group").on(t.groupDn),
  ],
);

/** Bearer tokens for services calling the REST API. Only the SHA-256 of the secret is kept. */
export const serviceTokens = pgTable(
  "service_tokens",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    realmId: text("realm_id")
      .notNull()
      .references(() => realms.id, { onDelete: "cascade" }),
    role: text("role").notNull(),
    tokenHash: text("token_hash").notNull(),
    /** First characters of the token, shown in lists so a token can be recognised. */
    prefix: text("prefix").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
  },
  (t) => [uniqueIndex("service_tokens_hash").on(t.tokenHash)],
);

/** The last known directory view of a person: refreshed at login and re-checked at invocation. */
export const identities = pgTable("identities", {
  subject: text("subject").primaryKey(),
  dn: text("dn"),
  displayName: text("display_name"),
  email: text("email"),
  source: text("source").notNull(),
  groups: jsonb("groups").$type<string[]>().notNull().default([]),
  groupsCheckedAt: timestamp("groups_checked_at", { withTimezone: true }).notNull().defaultNow(),
  lastLoginAt: timestamp("last_login_at", { withTimezone: true }),
});

/**
 * Console sessions that were signed out before they expired. Sessions are signed cookies, valid
 * anywhere until they expire; a row here ends one in every process that reads this database.
 * A row is worthless once its session would have expired anyway, and is pruned after that.
 */
export const endedSessions = pgTable(
  "ended_sessions",
  {
    id: text("id").primaryKey(),
    endedAt: timestamp("ended_at", { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  },
  (t) => [index("ended_sessions_expires_at").on(t.expiresAt)],
);

/** Failed-login counters, kept per username and per client address, checked before LDAP is asked. */
export const loginThrottle = pgTable("login_throttle", {
  key: text("key").primaryKey(),
  failures: integer("failures").notNull().default(0),
  windowStartedAt: timestamp("window_started_at", { withTimezone: true }).notNull().defaultNow(),
  blockedUntil: timestamp("blocked_until", { withTimezone: true }),
});

/** Ed25519 keys that sign compliance bundles. Retired keys stay so old bundles still verify. */
export const signingKeys = pgTable("signing_keys", {
  /** SHA-256 (hex) of the DER-encoded public key. */
  id: text("id").primaryKey(),
  publicKeyPem: text("public_key_pem").notNull(),
  /** PKCS#8 private key, encrypted with the instance key; never exported. */
  privateKeyEnc: text("private_key_enc").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  retiredAt: timestamp("retired_at", { withTimezone: true }),
});

export const auditEvents = pgTable(
  "audit_events",
  {
    /** Position in the chain, gap-free, assigned under a lock. */
    seq: integer("seq").primaryKey(),
    id: uuid("id").notNull().defaultRandom(),
    at: timestamp("at", { withTimezone: true }).notNull(),
    action: text("action").notNull(),
    outcome: text("outcome").notNull().default("ok"),
    actor: jsonb("actor").$type<Record<string, unknown>>().notNull(),
    realmId: text("realm_id"),
    targetType: text("target_type"),
    targetId: text("target_id"),
    data: jsonb("data").$type<Record<string, unknown>>().notNull().default({}),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [
    index("audit_events_realm_at").on(t.realmId, t.at),
    index("audit_events_action").on(t.action),
    index("audit_events_at").on(sql`${t.at} desc`),
  ],
);
