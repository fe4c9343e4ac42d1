import { createHash, createPublicKey, randomBytes, sign, verify } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseHandle } from "../../db/client";
import { signingKeys } from "../../db/schema";
import { DATABASE_KINDS, openTestDatabase } from "../../test/database";
import { isAppError } from "../errors";
import {
  buildPublicKeysDocument,
  decryptPrivateKey,
  encryptPrivateKey,
  getOrCreateSigningKey,
  listPublicKeys,
  loadOrCreateInstanceSecret,
  rotateSigningKey,
} from "./signing-keys";

describe("instance secret file", () => {
  const dir = mkdtempSync(join(tmpdir(), "loopstacks-instance-key-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is created once, owner-only, and read back unchanged", () => {
    const dataDir = join(dir, "data");
    const first = loadOrCreateInstanceSecret(dataDir);
    const path = join(dataDir, "instance.key");
    expect(first).toHaveLength(32);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, "utf8").trim()).toBe(Buffer.from(first).toString("hex"));
    expect(Buffer.from(loadOrCreateInstanceSecret(dataDir)).equals(Buffer.from(first))).toBe(true);
  });

  it("refuses a damaged key file rather than making a new secret", () => {
    const dataDir = join(dir, "damaged");
    loadOrCreateInstanceSecret(dataDir);
    writeFileSync(join(dataDir, "instance.key"), "not hex\n");
    const error = (() => {
      try {
        loadOrCreateInstanceSecret(dataDir);
      } catch (e) {
        return e;
      }
    })();
    expect(isAppError(error, "invalid_request")).toBe(true);
  });
});

describe.each(DATABASE_KINDS)("signing keys on %s", (kind) => {
  let database: DatabaseHandle;
  const secret = randomBytes(32);

  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(async () => {
    await database?.close();
  });

  it("generates one key on first use; its id is the SHA-256 of the DER public key", async () => {
    const key = await getOrCreateSigningKey(database.db, secret);
    const again = await getOrCreateSigningKey(database.db, secret);
    expect(again.id).toBe(key.id);
    const der = createPublicKey(key.publicKeyPem).export({ type: "spki", format: "der" });
    expect(key.id).toBe(createHash("sha256").update(der).digest("hex"));
    const message = Buffer.from("manifest bytes");
    expect(verify(null, message, key.publicKeyPem, sign(null, message, key.privateKey))).toBe(true);
    expect(await database.db.select().from(signingKeys)).toHaveLength(1);
  });

  it("stores the private key encrypted, bound to its key id and readable only with the instance secret", async () => {
    const [row] = await database.db.select().from(signingKeys);
    const key = await getOrCreateSigningKey(database.db, secret);
    const pkcs8 = key.privateKey.export({ type: "pkcs8", format: "der" });
    expect(row!.privateKeyEnc).not.toContain(pkcs8.toString("base64"));
    expect(row!.privateKeyEnc).not.toContain("PRIVATE KEY");
    expect(row!.privateKeyEnc.startsWith("v1.hkdf.")).toBe(true);
    const wrong = await getOrCreateSigningKey(database.db, randomBytes(32)).catch((e: unknown) => e);
    expect(isAppError(wrong, "internal")).toBe(true);
    expect(() => decryptPrivateKey(row!.privateKeyEnc, "0".repeat(64), secret)).toThrow(/cannot be decrypted/);
  });

  it("rotates: the old key is retired but stays listed, the new one signs", async () => {
    const before = await getOrCreateSigningKey(database.db, secret);
    const rotatedAt = new Date("2030-01-02T03:04:05.000Z");
    const { retired, active } = await rotateSigningKey(database.db, secret, rotatedAt);
    expect(retired).toBe(before.id);
    expect(active.id).not.toBe(before.id);
    expect((await getOrCreateSigningKey(database.db, secret)).id).toBe(active.id);
    const keys = await listPublicKeys(database.db);
    expect(keys.map((k) => [k.id, k.retiredAt?.toISOString() ?? null])).toEqual([
      [before.id, rotatedAt.toISOString()],
      [active.id, null],
    ]);
    const document = buildPublicKeysDocument(keys);
    expect(document.keys[0]).toEqual({ id: before.id, publicKeyPem: before.publicKeyPem, createdAt: before.createdAt.toISOString(), retiredAt: rotatedAt.toISOString() });
    expect(document.keys[1]?.retiredAt).toBeNull();
    expect(JSON.stringify(document)).not.toContain("PRIVATE");
  });

  it("creates exactly one key when many callers ask at once", async () => {
    const fresh = await openTestDatabase(kind);
    try {
      const keys = await Promise.all(Array.from({ length: 6 }, () => getOrCreateSigningKey(fresh.db, secret)));
      expect(new Set(keys.map((k) => k.id)).size).toBe(1);
      expect(await fresh.db.select().from(signingKeys)).toHaveLength(1);
    } finally {
      await fresh.close();
    }
  });
});

describe("private key encryption with a passphrase", () => {
  it("round-trips with the passphrase and refuses another", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const { privateKey } = generateKeyPairSync("ed25519");
    const encrypted = encryptPrivateKey(privateKey, "key-1", "correct horse battery staple");
    expect(encrypted.startsWith("v1.scrypt.")).toBe(true);
    const back = decryptPrivateKey(encrypted, "key-1", "correct horse battery staple");
    expect(back.export({ type: "pkcs8", format: "der" }).equals(privateKey.export({ type: "pkcs8", format: "der" }))).toBe(true);
    expect(() => decryptPrivateKey(encrypted, "key-1", "wrong horse battery staple")).toThrow(/cannot be decrypted/);
    expect(() => encryptPrivateKey(privateKey, "key-1", "short")).toThrow(/at least 12/);
  });
});
