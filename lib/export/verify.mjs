#!/usr/bin/env node
/**
 * Verifies a LoopStacks compliance bundle. Zero dependencies: Node.js 18 or later, nothing else.
 *
 *   node verify.mjs [bundle-folder] [--keys well-known-keys.json] [--key-id <sha256>]...
 *   node verify.mjs --hash <file.json | ->   SHA-256 of a value as hashed payloads are computed
 *
 * With no folder it verifies the folder it sits in. Exit status 0: the bundle is intact.
 * Exit status 1: each problem is printed on its own line, naming the file (and line) at fault.
 *
 * This same file is the verifier LoopStacks itself runs, so what an auditor runs and what the
 * product runs cannot drift apart.
 */
import { createHash, createPublicKey, verify as verifySignature } from "node:crypto";
import { createReadStream, existsSync, lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const BUNDLE_FORMAT = "loopstacks-compliance-bundle";
export const BUNDLE_FORMAT_VERSION = 1;
export const MANIFEST = "manifest.json";
export const SIGNATURE = "manifest.sig";
export const PUBLIC_KEY = "public-key.pem";
export const CHECKSUMS = "SHA256SUMS";
/** Files derived from the manifest, so the manifest cannot list them. */
const UNLISTED = new Set([MANIFEST, SIGNATURE, CHECKSUMS]);
/** The files read whole into memory; real ones hold a few KB. Every other file is streamed. */
export const METADATA_FILES = [MANIFEST, SIGNATURE, PUBLIC_KEY, CHECKSUMS];
/** The most a metadata file may hold: a manifest with an exporter in thousands of groups is well under it. */
export const MAX_METADATA_BYTES = 4 * 1024 * 1024;
const HEX64 = /^[0-9a-f]{64}$/;
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** JSON with object keys sorted at every level: the rule every hash in a bundle uses. */
export function canonicalJson(value) {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value).sort()) {
      if (value[key] !== undefined) out[key] = sortKeys(value[key]);
    }
    return out;
  }
  return value;
}

export function sha256Hex(data) {
  return createHash("sha256").update(data).digest("hex");
}

/** The exact bytes an audit event's hash covers: every field except `id` and `hash` itself. */
export function auditHashInput(event) {
  return canonicalJson({
    seq: event.seq,
    at: event.at,
    action: event.action,
    outcome: event.outcome,
    actor: event.actor,
    realmId: event.realmId,
    targetType: event.targetType,
    targetId: event.targetId,
    data: event.data,
    prevHash: event.prevHash,
  });
}

export function keyIdOf(publicKey) {
  return sha256Hex(publicKey.export({ type: "spki", format: "der" }));
}

/** Reads a file in chunks: hashes it, counts its bytes and hands each line to `onLine`. */
async function scanFile(path, onLine) {
  const hash = createHash("sha256");
  let size = 0;
  let lines = 0;
  let partial = [];
  let endsWithNewline = true;
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) {
    hash.update(chunk);
    size += chunk.length;
    if (!onLine) continue;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) break;
      const piece = chunk.subarray(start, nl);
      const line = partial.length ? Buffer.concat([...partial, piece]) : piece;
      partial = [];
      lines++;
      onLine(line.toString("utf8"), lines);
      start = nl + 1;
    }
    if (start < chunk.length) partial.push(Buffer.from(chunk.subarray(start)));
  }
  if (onLine && partial.length) {
    endsWithNewline = false;
    lines++;
    onLine(Buffer.concat(partial).toString("utf8"), lines);
  }
  return { sha256: hash.digest("hex"), size, lines, endsWithNewline };
}

function parseLine(file, line, number, problems) {
  try {
    const value = JSON.parse(line);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      problems.push(`${file} line ${number}: not a JSON object`);
      return null;
    }
    return value;
  } catch {
    problems.push(`${file} line ${number}: not valid JSON`);
    return null;
  }
}

function compareKeys(a, b) {
  for (let i = 0; i < a.length; i++) {
    if (a[i] < b[i]) return -1;
    if (a[i] > b[i]) return 1;
  }
  return 0;
}

/** Records are written in a stable order; a line out of that order was moved. */
function orderChecker(file, keyOf) {
  let previous = null;
  return (record, number, problems) => {
    const key = keyOf(record);
    if (key.some((k) => typeof k !== "string" && typeof k !== "number")) {
      problems.push(`${file} line ${number}: missing the fields it is ordered by`);
      return;
    }
    if (previous && compareKeys(previous, key) >= 0) problems.push(`${file} line ${number}: out of order (it belongs before line ${number - 1})`);
    previous = key;
  };
}

function framesChecker() {
  const file = "frames.jsonl";
  const finishedRuns = new Set();
  let run = null;
  let seq = -1;
  return (record, number, problems) => {
    if (typeof record.runId !== "string" || typeof record.seq !== "number") {
      problems.push(`${file} line ${number}: missing runId or seq`);
      return;
    }
    if (record.runId !== run) {
      if (finishedRuns.has(record.runId)) problems.push(`${file} line ${number}: out of order (run ${record.runId} continues after another run's frames)`);
      if (run !== null) finishedRuns.add(run);
      run = record.runId;
      seq = -1;
    }
    if (record.seq <= seq) problems.push(`${file} line ${number}: out of order (frame seq ${record.seq} after seq ${seq})`);
    seq = Math.max(seq, record.seq);
  };
}

/** Walks the hash chain: each line links to the one before, and each event hashes to its own `hash`. */
function auditChecker(chain) {
  const file = "audit.jsonl";
  let previous = null;
  let withContents = 0;
  const check = (event, number, problems) => {
    if (!Number.isInteger(event.seq) || typeof event.prevHash !== "string" || typeof event.hash !== "string") {
      problems.push(`${file} line ${number}: missing seq, prevHash or hash`);
      previous = null;
      return;
    }
    if (previous === null && number === 1 && chain) {
      if (event.seq !== chain.firstSeq) problems.push(`${file} line 1: seq ${event.seq}, but the manifest says the segment starts at ${chain.firstSeq}`);
      if (event.prevHash !== chain.firstPrevHash) problems.push(`${file} line 1: prev_hash is not the manifest's firstPrevHash`);
    } else if (previous !== null) {
      if (event.seq !== previous.seq + 1) problems.push(`${file} line ${number}: seq ${event.seq} does not follow seq ${previous.seq} on line ${number - 1}`);
      if (event.prevHash !== previous.hash) problems.push(`${file} line ${number}: prev_hash does not link to line ${number - 1}`);
    }
    if (event.withheld === true) {
      const extra = Object.keys(event).filter((k) => !["seq", "prevHash", "hash", "withheld"].includes(k));
      if (extra.length) problems.push(`${file} line ${number}: a withheld event carries ${extra.join(", ")}`);
    } else {
      withContents++;
      if (sha256Hex(auditHashInput(event)) !== event.hash) problems.push(`${file} line ${number}: hash does not match the event's contents`);
    }
    previous = event;
  };
  const finish = (lines, problems) => {
    if (!chain) {
      if (lines > 0) problems.push(`${file}: holds events, but the manifest covers no audit segment`);
      return;
    }
    if (lines === 0) {
      problems.push(`${file}: empty, but the manifest covers seq ${chain.firstSeq} to ${chain.lastSeq}`);
      return;
    }
    if (previous && previous.seq !== chain.lastSeq) problems.push(`${file}: ends at seq ${previous.seq}, the manifest says ${chain.lastSeq}`);
    if (previous && previous.hash !== chain.headHash) problems.push(`${file}: the last event's hash is not the manifest's headHash`);
    if (Number.isInteger(chain.inScopeEvents) && withContents !== chain.inScopeEvents) {
      problems.push(`${file}: ${withContents} events with contents, the manifest says ${chain.inScopeEvents}`);
    }
  };
  return { check, finish };
}

const RECORD_CHECKERS = {
  "runs.jsonl": () => orderChecker("runs.jsonl", (r) => [r.createdAt, r.id]),
  "frames.jsonl": framesChecker,
  "prompts.jsonl": () => orderChecker("prompts.jsonl", (r) => [r.loopId, r.version]),
};

/**
 * A metadata file's bytes, or null with the problem recorded: missing, not a regular file (a
 * link could point at a device that never ends), or too large to be one a bundle holds.
 */
function readMetadata(dir, name, problems) {
  const path = join(dir, name);
  const stat = lstatSync(path, { throwIfNoEntry: false });
  if (!stat) {
    problems.push(`${name}: missing`);
    return null;
  }
  if (!stat.isFile()) {
    problems.push(`${name}: not a regular file`);
    return null;
  }
  if (stat.size > MAX_METADATA_BYTES) {
    problems.push(`${name}: too large: ${stat.size} bytes, where a bundle's ${name} holds at most ${MAX_METADATA_BYTES}; not read`);
    return null;
  }
  return readFileSync(path);
}

function readManifest(dir, problems) {
  const bytes = readMetadata(dir, MANIFEST, problems);
  if (!bytes) return { bytes: null, manifest: null };
  let manifest = null;
  try {
    manifest = JSON.parse(bytes.toString("utf8"));
  } catch {
    problems.push(`${MANIFEST}: not valid JSON`);
    return { bytes, manifest: null };
  }
  const invalid = (field) => problems.push(`${MANIFEST}: ${field} is missing or invalid`);
  if (manifest === null || typeof manifest !== "object") {
    problems.push(`${MANIFEST}: not a JSON object`);
    return { bytes, manifest: null };
  }
  if (manifest.format !== BUNDLE_FORMAT) invalid("format");
  if (manifest.formatVersion !== BUNDLE_FORMAT_VERSION) problems.push(`${MANIFEST}: formatVersion ${manifest.formatVersion} is not one this verifier knows (${BUNDLE_FORMAT_VERSION})`);
  if (typeof manifest.signingKeyId !== "string" || !HEX64.test(manifest.signingKeyId)) invalid("signingKeyId");
  if (!Array.isArray(manifest.files)) {
    invalid("files");
    manifest.files = [];
  }
  const seen = new Set();
  manifest.files = manifest.files.filter((f, i) => {
    const ok =
      f && typeof f.name === "string" && SAFE_NAME.test(f.name) && !UNLISTED.has(f.name) &&
      typeof f.sha256 === "string" && HEX64.test(f.sha256) && Number.isSafeInteger(f.size) && f.size >= 0 &&
      (f.records === undefined || (Number.isSafeInteger(f.records) && f.records >= 0));
    if (!ok) {
      invalid(`files[${i}]`);
      return false;
    }
    if (seen.has(f.name)) {
      problems.push(`${MANIFEST}: lists ${f.name} twice`);
      return false;
    }
    seen.add(f.name);
    return true;
  });
  const chain = manifest.auditChain;
  if (chain !== null && chain !== undefined) {
    const ok =
      typeof chain === "object" && Number.isInteger(chain.firstSeq) && Number.isInteger(chain.lastSeq) && chain.lastSeq >= chain.firstSeq &&
      typeof chain.firstPrevHash === "string" && HEX64.test(chain.firstPrevHash) && typeof chain.headHash === "string" && HEX64.test(chain.headHash);
    if (!ok) {
      invalid("auditChain");
      manifest.auditChain = null;
    }
  }
  return { bytes, manifest };
}

function checkSignature(dir, bytes, manifest, options, problems) {
  const keyPem = readMetadata(dir, PUBLIC_KEY, problems);
  let publicKey = null;
  if (keyPem) {
    try {
      publicKey = createPublicKey(keyPem);
      if (publicKey.asymmetricKeyType !== "ed25519") {
        problems.push(`${PUBLIC_KEY}: not an Ed25519 public key (${publicKey.asymmetricKeyType})`);
        publicKey = null;
      }
    } catch {
      problems.push(`${PUBLIC_KEY}: not a valid PEM public key`);
    }
  }
  const sigText = readMetadata(dir, SIGNATURE, problems);
  if (sigText && publicKey && bytes) {
    const text = sigText.toString("utf8").trim();
    const signature = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, "base64") : Buffer.alloc(0);
    let valid = false;
    if (signature.length === 64) {
      try {
        valid = verifySignature(null, bytes, publicKey, signature);
      } catch {
        valid = false;
      }
    }
    if (!valid) problems.push(`${SIGNATURE}: signature does not verify with ${PUBLIC_KEY}`);
  }
  if (!publicKey || !manifest) return null;
  const keyId = keyIdOf(publicKey);
  if (typeof manifest.signingKeyId === "string" && keyId !== manifest.signingKeyId) {
    problems.push(`${PUBLIC_KEY}: key id ${keyId} is not the manifest's signingKeyId ${manifest.signingKeyId}`);
  }
  const trusted = trustedKeys(options);
  if (trusted) {
    const known = trusted.get(keyId);
    if (!known) problems.push(`${PUBLIC_KEY}: key ${keyId} is not one of the trusted keys`);
    else if (known.retiredAt && typeof manifest.exportedAt === "string" && Date.parse(manifest.exportedAt) > Date.parse(known.retiredAt)) {
      problems.push(`${PUBLIC_KEY}: key ${keyId} was retired at ${known.retiredAt}, before this bundle's exportedAt ${manifest.exportedAt}`);
    }
  }
  return keyId;
}

function trustedKeys(options) {
  if (!options.trustedKeys && !options.trustedKeyIds) return null;
  const map = new Map();
  for (const id of options.trustedKeyIds ?? []) map.set(id, { retiredAt: null });
  for (const key of options.trustedKeys?.keys ?? []) {
    // Trust the key material itself, not the id a document claims for it.
    try {
      map.set(keyIdOf(createPublicKey(key.publicKeyPem)), { retiredAt: key.retiredAt ?? null });
    } catch {
      // An unreadable entry trusts nothing.
    }
  }
  return map;
}

async function checkFiles(dir, manifest, problems) {
  const actual = new Map();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) problems.push(`${entry.name}: unexpected folder in the bundle`);
    else if (!entry.isFile()) problems.push(`${entry.name}: not a regular file`);
    else actual.set(entry.name, null);
  }
  const listed = new Map((manifest?.files ?? []).map((f) => [f.name, f]));
  if (manifest) {
    for (const name of actual.keys()) {
      if (!listed.has(name) && !UNLISTED.has(name)) problems.push(`${name}: not listed in the manifest`);
    }
    for (const name of listed.keys()) {
      if (!actual.has(name)) problems.push(`${name}: missing (listed in the manifest)`);
    }
  }
  for (const name of [...actual.keys()].sort()) {
    if (name === CHECKSUMS) continue;
    const path = join(dir, name);
    const entry = listed.get(name);
    const isRecords = entry !== undefined && entry.records !== undefined;
    const linesProblems = [];
    let onLine = null;
    let audit = null;
    if (isRecords) {
      const makeChecker = RECORD_CHECKERS[name];
      const ordered = makeChecker ? makeChecker() : null;
      if (name === "audit.jsonl") audit = auditChecker(manifest.auditChain ?? null);
      onLine = (line, number) => {
        const record = parseLine(name, line, number, linesProblems);
        if (!record) return;
        if (audit) audit.check(record, number, linesProblems);
        else if (ordered) ordered(record, number, linesProblems);
      };
    }
    const scanned = await scanFile(path, onLine);
    actual.set(name, scanned.sha256);
    if (!entry) continue;
    if (scanned.sha256 !== entry.sha256) problems.push(`${name}: sha256 mismatch`);
    if (scanned.size !== entry.size) problems.push(`${name}: size ${scanned.size} bytes, the manifest says ${entry.size}`);
    if (isRecords) {
      if (scanned.lines !== entry.records) problems.push(`${name}: ${scanned.lines} records, the manifest says ${entry.records}`);
      if (!scanned.endsWithNewline) problems.push(`${name}: the last line is not terminated by a newline`);
      if (audit) audit.finish(scanned.lines, linesProblems);
      problems.push(...linesProblems.slice(0, 20));
      if (linesProblems.length > 20) problems.push(`${name}: ${linesProblems.length - 20} more problems`);
    }
  }
  if (manifest && !listed.has("audit.jsonl") && manifest.auditChain) problems.push(`${MANIFEST}: covers an audit segment but lists no audit.jsonl`);
  return actual;
}

function checkChecksums(dir, hashes, problems) {
  const sums = readMetadata(dir, CHECKSUMS, problems);
  if (!sums) return;
  const listed = new Map();
  const lines = sums.toString("utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  lines.forEach((line, i) => {
    const match = /^([0-9a-f]{64}) [ *]([^/\\]+)$/.exec(line);
    if (!match) {
      problems.push(`${CHECKSUMS}: line ${i + 1} is not "<sha256>  <file>"`);
      return;
    }
    const [, hash, name] = match;
    if (listed.has(name)) problems.push(`${CHECKSUMS}: lists ${name} twice`);
    listed.set(name, hash);
  });
  for (const [name, hash] of listed) {
    if (!hashes.has(name) || name === CHECKSUMS) problems.push(`${CHECKSUMS}: lists ${name}, which is not in the bundle`);
    else if (hashes.get(name) !== hash) problems.push(`${CHECKSUMS}: ${name}: sha256 mismatch`);
  }
  for (const name of hashes.keys()) {
    if (name !== CHECKSUMS && !listed.has(name)) problems.push(`${CHECKSUMS}: no entry for ${name}`);
  }
}

/**
 * Verifies an extracted bundle folder. `options.trustedKeys` (the instance's well-known keys
 * document) or `options.trustedKeyIds` pin the signer; without them the bundle can only prove
 * that it is intact and self-consistent, not who made it.
 */
export async function verifyBundleDirectory(dir, options = {}) {
  const problems = [];
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    return { ok: false, problems: [`${dir}: not a folder`], manifest: null };
  }
  const { bytes, manifest } = readManifest(dir, problems);
  checkSignature(dir, bytes, manifest, options, problems);
  const hashes = await checkFiles(dir, manifest, problems);
  checkChecksums(dir, hashes, problems);
  return { ok: problems.length === 0, problems, manifest };
}

function describe(manifest) {
  const chain = manifest.auditChain;
  const files = manifest.files.length + UNLISTED.size;
  const segment = chain ? `audit events ${chain.firstSeq}–${chain.lastSeq}` : "no audit events";
  return `signed by key ${manifest.signingKeyId}, ${files} files, ${segment}`;
}

async function main(argv) {
  const args = [...argv];
  const options = {};
  let dir = null;
  while (args.length) {
    const arg = args.shift();
    if (arg === "--hash") {
      const source = args.shift() ?? "-";
      const text = source === "-" ? readFileSync(0, "utf8") : readFileSync(source, "utf8");
      console.log(sha256Hex(canonicalJson(JSON.parse(text))));
      return 0;
    } else if (arg === "--keys") {
      options.trustedKeys = JSON.parse(readFileSync(args.shift() ?? "", "utf8"));
    } else if (arg === "--key-id") {
      (options.trustedKeyIds ??= []).push(args.shift() ?? "");
    } else if (arg === "--help" || arg === "-h") {
      console.log("usage: node verify.mjs [bundle-folder] [--keys keys.json] [--key-id <sha256>]... | --hash <file.json|->");
      return 0;
    } else {
      dir = arg;
    }
  }
  const folder = resolve(dir ?? dirname(fileURLToPath(import.meta.url)));
  const result = await verifyBundleDirectory(folder, options);
  if (result.ok) {
    console.log(`OK ${basename(folder)}: ${describe(result.manifest)}`);
    if (!options.trustedKeys && !options.trustedKeyIds) {
      console.log(`   Compare the key id with the keys the instance publishes (or pass --keys) to know who signed it.`);
    }
    return 0;
  }
  console.log(`FAILED ${basename(folder)}:`);
  for (const problem of result.problems) console.log(`  ${problem}`);
  return 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      console.error(`verify.mjs: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 2;
    },
  );
}
