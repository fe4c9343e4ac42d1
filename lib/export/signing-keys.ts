import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  scryptSync,
  type KeyObject,
} from "node:crypto";
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { asc, desc, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { signingKeys } from "../../db/schema";
import { AppError } from "../errors";

/**
 * The secret that protects signing keys at rest: raw bytes (the instance key file) or a
 * passphrase. Passphrases go through scrypt; random bytes only need HKDF.
 */
export type InstanceSecret = Uint8Array | string;

export interface SigningKey {
  /** SHA-256 (hex) of the DER-encoded SubjectPublicKeyInfo. */
  id: string;
  publicKeyPem: string;
  privateKey: KeyObject;
  createdAt: Date;
}

export interface PublicSigningKey {
  id: string;
  publicKeyPem: string;
  createdAt: Date;
  retiredAt: Date | null;
}

/** The JSON document the console serves at its well-known URL, so old bundles still verify. */
export interface PublicKeysDocument {
  keys: { id: string; publicKeyPem: string; createdAt: string; retiredAt: string | null }[];
}

const INSTANCE_KEY_FILE = "instance.key";
const INSTANCE_KEY_BYTES = 32;
/** Serialises key creation and rotation across every process sharing the database. */
const SIGNING_KEY_LOCK = 727_270_006;
const ENCRYPTION_FORMAT = "v1";

/**
 * Reads `<dataDir>/instance.key`, creating it (32 random bytes, hex, mode 0600) when absent.
 * The exclusive create means two processes starting together agree on one secret.
 */
export function loadOrCreateInstanceSecret(dataDir: string): Uint8Array {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, INSTANCE_KEY_FILE);
  try {
    const fd = openSync(path, "wx", 0o600);
    try {
      writeSync(fd, `${randomBytes(INSTANCE_KEY_BYTES).toString("hex")}\n`);
    } finally {
      closeSync(fd);
    }
    // The umask may have narrowed the mode further; never let it be wider.
    chmodSync(path, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const text = readFileSync(path, "utf8").trim();
  if (!/^[0-9a-f]{64}$/.test(text)) {
    throw new AppError("invalid_request", `${path} is not an instance key (expected 64 hex characters); restore it from backup — signing keys cannot be decrypted without it`);
  }
  if ((statSync(path).mode & 0o077) !== 0) {
    chmodSync(path, 0o600);
  }
  return Buffer.from(text, "hex");
}

export function signingKeyId(publicKey: KeyObject): string {
  return createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("hex");
}

function deriveKey(secret: InstanceSecret, kdf: "hkdf" | "scrypt", salt: Buffer): Buffer {
  if (kdf === "scrypt") {
    if (typeof secret !== "string") throw new AppError("internal", "This signing key was encrypted with a passphrase; pass the passphrase");
    return scryptSync(secret.normalize("NFC"), salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  }
  if (typeof secret === "string") throw new AppError("internal", "This signing key was encrypted with the instance key file; pass its bytes");
  return Buffer.from(hkdfSync("sha256", secret, salt, "loopstacks signing key", 32));
}

/** AES-256-GCM with the key id as associated data, so a ciphertext cannot be moved to another row. */
export function encryptPrivateKey(privateKey: KeyObject, keyId: string, secret: InstanceSecret): string {
  if (typeof secret !== "string" && secret.length < 16) throw new AppError("invalid_request", "The instance secret must be at least 16 bytes");
  if (typeof secret === "string" && secret.length < 12) throw new AppError("invalid_request", "The signing passphrase must be at least 12 characters");
  const kdf = typeof secret === "string" ? "scrypt" : "hkdf";
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", deriveKey(secret, kdf, salt), iv);
  cipher.setAAD(Buffer.from(keyId));
  const plain = privateKey.export({ type: "pkcs8", format: "der" });
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
  return [ENCRYPTION_FORMAT, kdf, salt, iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === "string" ? part : part.toString("base64")))
    .join(".");
}

export function decryptPrivateKey(encrypted: string, keyId: string, secret: InstanceSecret): KeyObject {
  const [format, kdf, salt, iv, tag, ciphertext] = encrypted.split(".");
  if (format !== ENCRYPTION_FORMAT || (kdf !== "hkdf" && kdf !== "scrypt") || !salt || !iv || !tag || !ciphertext) {
    throw new AppError("internal", `Signing key ${keyId} is stored in an unknown format`);
  }
  try {
    const decipher = createDecipheriv("aes-256-gcm", deriveKey(secret, kdf, Buffer.from(salt, "base64")), Buffer.from(iv, "base64"));
    decipher.setAAD(Buffer.from(keyId));
    decipher.setAuthTag(Buffer.from(tag, "base64"));
    const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64")), decipher.final()]);
    return createPrivateKey({ key: plain, format: "der", type: "pkcs8" });
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError("internal", `Signing key ${keyId} cannot be decrypted with this instance secret (was instance.key replaced?)`, { cause: error });
  }
}

function newKeyRow(secret: InstanceSecret, now: Date) {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const id = signingKeyId(publicKey);
  return {
    id,
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    privateKeyEnc: encryptPrivateKey(privateKey, id, secret),
    createdAt: now,
  };
}

function toSigningKey(row: typeof signingKeys.$inferSelect, secret: InstanceSecret): SigningKey {
  const privateKey = decryptPrivateKey(row.privateKeyEnc, row.id, secret);
  // A row whose public half does not belong to its private half would sign bundles nobody can verify.
  if (signingKeyId(createPublicKey(privateKey)) !== row.id) {
    throw new AppError("internal", `Signing key ${row.id} does not match its stored private key`);
  }
  return { id: row.id, publicKeyPem: row.publicKeyPem, privateKey, createdAt: row.createdAt };
}

/** The active key, generated and stored on first use. */
export async function getOrCreateSigningKey(db: Db, secret: InstanceSecret, now: Date = new Date()): Promise<SigningKey> {
  const [existing] = await db.select().from(signingKeys).where(isNull(signingKeys.retiredAt)).orderBy(desc(signingKeys.createdAt)).limit(1);
  if (existing) return toSigningKey(existing, secret);
  const row = await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`);
    const [raced] = await tx.select().from(signingKeys).where(isNull(signingKeys.retiredAt)).orderBy(desc(signingKeys.createdAt)).limit(1);
    if (raced) return raced;
    const fresh = newKeyRow(secret, now);
    await tx.insert(signingKeys).values(fresh);
    return { ...fresh, retiredAt: null };
  });
  return toSigningKey(row, secret);
}

/** Retires the active key (it stays published) and makes a new one active. */
export async function rotateSigningKey(db: Db, secret: InstanceSecret, now: Date = new Date()): Promise<{ retired: string | null; active: SigningKey }> {
  const result = await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`);
    const retired = await tx
      .update(signingKeys)
      .set({ retiredAt: now })
      .where(isNull(signingKeys.retiredAt))
      .returning({ id: signingKeys.id });
    const fresh = newKeyRow(secret, now);
    await tx.insert(signingKeys).values(fresh);
    return { retired: retired[0]?.id ?? null, row: { ...fresh, retiredAt: null } };
  });
  return { retired: result.retired, active: toSigningKey(result.row, secret) };
}

/** Every key ever used, oldest first, retired ones included. */
export async function listPublicKeys(db: Db): Promise<PublicSigningKey[]> {
  return db
    .select({ id: signingKeys.id, publicKeyPem: signingKeys.publicKeyPem, createdAt: signingKeys.createdAt, retiredAt: signingKeys.retiredAt })
    .from(signingKeys)
    .orderBy(asc(signingKeys.createdAt), asc(signingKeys.id));
}

export async function getPublicKey(db: Db, id: string): Promise<PublicSigningKey | null> {
  const [row] = await db
    .select({ id: signingKeys.id, publicKeyPem: signingKeys.publicKeyPem, createdAt: signingKeys.createdAt, retiredAt: signingKeys.retiredAt })
    .from(signingKeys)
    .where(eq(signingKeys.id, id));
  return row ?? null;
}

export function buildPublicKeysDocument(keys: readonly PublicSigningKey[]): PublicKeysDocument {
  return {
    keys: keys.map((k) => ({
      id: k.id,
      publicKeyPem: k.publicKeyPem,
      createdAt: k.createdAt.toISOString(),
      retiredAt: k.retiredAt?.toISOString() ?? null,
    })),
  };
}
