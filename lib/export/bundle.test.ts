import { execFileSync, spawnSync } from "node:child_process";
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../db/queries/audit";
import { insertRun } from "../../db/queries/runs";
import { realms } from "../../db/schema";
import { DATABASE_KINDS } from "../../test/database";
import { createTestRuntime, type TestRuntime } from "../../test/runtime-harness";
import { canonicalJson, sha256Hex } from "../canonical-json";
import { AppError, isAppError } from "../errors";
import type { Identity } from "../runtime/types";
import { resolveActor } from "../services/actor";
import { exportBundle } from "./export-bundle";
import type { BundleManifest } from "./manifest";
import { getOrCreateSigningKey } from "./signing-keys";
import { extractTarGz } from "./tar";
import { verifyBundle } from "./verify-bundle";
import { writeBundleFile, type PrepareBundleParams } from "./write-bundle";

const SECRET_VALUE = `sk-partner-${randomBytes(12).toString("hex")}`;
const instanceSecret = randomBytes(32);
const work = mkdtempSync(join(tmpdir(), "loopstacks-bundle-test-"));
let archiveCounter = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The fields of a frames.jsonl line these tests read. */
interface FrameLine {
  id: string;
  runId: string;
  seq: number;
  loop: { id: string; realm: string };
  status: string;
  input: unknown;
  output: unknown;
  error: { code: string; message: unknown } | null;
  toolCalls: { name: string; isError: boolean; childFrameId: string | null; input: unknown }[];
}

function readLines<T = Record<string, unknown>>(path: string): T[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as T);
}

/** Extracts an archive into a fresh folder and returns the bundle folder inside it. */
async function extract(archive: string): Promise<string> {
  const dest = mkdtempSync(join(work, "x-"));
  await extractTarGz(archive, dest);
  const [folder] = readdirSync(dest);
  return join(dest, folder!);
}

function copyBundle(dir: string): string {
  const dest = join(mkdtempSync(join(work, "t-")), "bundle");
  cpSync(dir, dest, { recursive: true });
  return dest;
}

/** Rewrites the manifest's entries from the files as they now are and signs it again, as an insider holding the key could. */
function resign(dir: string, privateKey: KeyObject, edit: (m: BundleManifest) => void = () => {}): void {
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as BundleManifest;
  for (const file of manifest.files) {
    const bytes = readFileSync(join(dir, file.name));
    file.sha256 = createHash("sha256").update(bytes).digest("hex");
    file.size = bytes.length;
    if (file.records !== undefined) file.records = bytes.toString("utf8").split("\n").filter((l) => l.length > 0).length;
  }
  edit(manifest);
  const bytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(dir, "manifest.json"), bytes);
  writeFileSync(join(dir, "manifest.sig"), `${sign(null, bytes, privateKey).toString("base64")}\n`);
  const sums = readdirSync(dir)
    .filter((n) => n !== "SHA256SUMS")
    .sort()
    .map((n) => `${createHash("sha256").update(readFileSync(join(dir, n))).digest("hex")}  ${n}\n`)
    .join("");
  writeFileSync(join(dir, "SHA256SUMS"), sums);
}

/** Flips the case of the first ASCII letter at or after the middle of the file. */
function flipByte(path: string): void {
  const bytes = readFileSync(path);
  for (let i = Math.floor(bytes.length / 2); i < bytes.length; i++) {
    const b = bytes[i]!;
    if ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) {
      bytes[i] = b ^ 0x20;
      writeFileSync(path, bytes);
      return;
    }
  }
  throw new Error(`no letter to flip in ${path}`);
}

function editLines(path: string, edit: (lines: string[]) => string[]): void {
  const lines = readFileSync(path, "utf8").split("\n").filter((l) => l.length > 0);
  writeFileSync(path, edit(lines).map((l) => `${l}\n`).join(""));
}

/** The commands of the first code block after `heading` in a document: a fenced block, or an indented one. */
function commandsAfter(document: string, heading: string): string {
  const rest = document.slice(document.indexOf(heading));
  expect(rest.length, heading).toBeLessThan(document.length);
  const fenced = /^```sh\n([\s\S]*?)^```$/m.exec(rest);
  const indented = /((?:^ {4}\S.*\n)+)/m.exec(rest);
  if (fenced && (!indented || fenced.index < indented.index)) return fenced[1]!;
  return indented![1]!.replace(/^ {4}/gm, "");
}

function allBytes(dir: string): string {
  return readdirSync(dir)
    .map((n) => readFileSync(join(dir, n)).toString("utf8"))
    .join("\n");
}

describe.each(DATABASE_KINDS)("compliance bundle on %s", (kind) => {
  let rt: TestRuntime;
  let alice: Identity;
  let auditor: Identity;
  let httpServer: Server;
  let httpUrl: string;
  const seenHeaders: IncomingHttpHeaders[] = [];
  const runs = { first: "", second: "", oncology: "", third: "", late: "" };
  let rangeFrom: Date;
  let rangeTo: Date;
  let runBundle: { archive: string; dir: string; manifest: BundleManifest; manifestSha256: string };
  let realmBundle: { archive: string; dir: string; manifest: BundleManifest };
  let privateKey: KeyObject;

  const exportTo = async (params: Omit<PrepareBundleParams, "instanceSecret" | "softwareVersion" | "exporter"> & { exporter?: Identity }) => {
    const path = join(work, `${kind}-${++archiveCounter}.tar.gz`);
    const result = await writeBundleFile(rt.database.db, { exporter: auditor, instanceSecret, softwareVersion: "0.1.0-test", pageSize: 3, ...params }, path);
    return { archive: path, ...result };
  };

  beforeAll(async () => {
    rt = await createTestRuntime(kind, { secrets: { resolve: (name) => (name === "PARTNER_TOKEN" ? SECRET_VALUE : undefined) } });
    alice = await rt.grant("clinic", "operator", "alice");
    const grants = await rt.grant("clinic", "auditor", "otto");
    auditor = { ...grants, displayName: `<b>Otto & "Audit"</b>` };
    httpServer = createServer((req, res) => {
      seenHeaders.push(req.headers);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ cases: [`case for ${new URL(req.url ?? "/", "http://x").searchParams.get("q")}`] }));
    });
    await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    httpUrl = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;

    await rt.registry.registerMany([
      {
        id: "lookup",
        type: "http",
        realm: "clinic",
        inputSchema: { type: "object", properties: { q: { type: "string" } }, required: ["q"] },
        http: { method: "GET", url: `${httpUrl}/cases?q={{input.q}}`, headers: { authorization: { secret: "PARTNER_TOKEN" } }, response: { pick: "cases" } },
      },
      { id: "broken", type: "http", realm: "clinic", retry: { maxAttempts: 1 }, http: { method: "GET", url: "http://127.0.0.1:1/down" } },
      { id: "onco-registry", type: "http", realm: "oncology", http: { method: "GET", url: `${httpUrl}/onco` } },
      { id: "summarize", type: "llm", realm: "clinic", llm: { model: "claude-summary", systemPrompt: "Summarize." } },
      {
        id: "triage",
        type: "llm",
        realm: "clinic",
        llm: {
          model: "claude-triage",
          systemPrompt: "You triage patients. v1",
          tools: [
            { name: "lookup", loopRef: "lookup" },
            { name: "broken", loopRef: "broken" },
            { name: "onco", loopRef: "onco-registry" },
          ],
        },
      },
    ]);
    rt.model.setScript("triage", {
      steps: [
        {
          toolUses: [
            { name: "lookup", input: { q: "raw-query-afib-7731" } },
            { name: "broken", input: {} },
            { name: "onco", input: { q: "raw-onco-peek-5512" } },
          ],
        },
        { text: "raw-answer-triage-high-9904" },
      ],
    });
    const first = await rt.executor.run("triage", { patient: "raw-patient-Jane-Roe-4411" }, { identity: alice });
    expect(first.status).toBe("succeeded");
    runs.first = first.runId;
    await sleep(30);
    rangeFrom = new Date();
    await sleep(30);

    // A new prompt version, then two more runs inside the range.
    await rt.registry.register({
      id: "triage",
      type: "llm",
      realm: "clinic",
      llm: {
        model: "claude-triage",
        systemPrompt: "You triage patients. v2",
        tools: [
          { name: "lookup", loopRef: "lookup" },
          { name: "broken", loopRef: "broken" },
          { name: "onco", loopRef: "onco-registry" },
        ],
      },
    });
    rt.model.setScript("triage", { steps: [{ toolUses: [{ name: "lookup", input: { q: "second" } }] }, { text: "second answer" }] });
    runs.second = (await rt.executor.run("triage", { patient: "second" }, { identity: alice })).runId;
    const oncologist = await rt.grant("oncology", "operator", "olga");
    runs.oncology = (await rt.executor.run("onco-registry", { q: "oncology-only-secret-case-3321" }, { identity: oncologist })).runId;
    rt.model.setScript("summarize", { steps: [{ text: "third answer" }] });
    runs.third = (await rt.executor.run("summarize", { patient: "third" }, { identity: alice })).runId;
    await sleep(30);
    rangeTo = new Date();
    await sleep(30);
    rt.model.setScript("triage", { steps: [{ text: "late answer" }] });
    runs.late = (await rt.executor.run("triage", { patient: "late" }, { identity: alice })).runId;

    privateKey = (await getOrCreateSigningKey(rt.database.db, instanceSecret)).privateKey;
    const run = await exportTo({ scope: { kind: "run", runId: runs.first }, realms: ["clinic"] });
    runBundle = { ...run, dir: await extract(run.archive) };
    const realm = await exportTo({ scope: { kind: "realm", realmId: "clinic", from: rangeFrom, to: rangeTo }, realms: ["clinic"] });
    realmBundle = { ...realm, dir: await extract(realm.archive) };
  });

  afterAll(async () => {
    httpServer?.closeAllConnections();
    httpServer?.close();
    await rt?.closeAll();
  });

  it("holds every frame of the run with its identity, authorization decision and tool calls, in order", () => {
    const frames = readLines<FrameLine>(join(runBundle.dir, "frames.jsonl"));
    // Sibling calls run concurrently, so only the root's place in the order is fixed.
    expect(frames.map((f) => f.seq)).toEqual([0, 1, 2, 3]);
    const byLoop = (id: string) => frames.find((f) => f.loop.id === id)!;
    expect(frames[0]!.loop.id).toBe("triage");
    expect(frames.map((f) => [f.loop.id, f.status]).sort()).toEqual([
      ["broken", "failed"],
      ["lookup", "succeeded"],
      ["onco-registry", "denied"],
      ["triage", "succeeded"],
    ]);
    const [root, lookup, broken, denied] = [byLoop("triage"), byLoop("lookup"), byLoop("broken"), byLoop("onco-registry")];
    expect(root).toMatchObject({
      runId: runs.first,
      depth: 0,
      model: "claude-triage",
      prompt: { version: 1, reason: "active" },
      identity: { subject: "alice" },
      authorization: { allowed: true, realm: "clinic", role: "operator" },
      input: { patient: "raw-patient-Jane-Roe-4411" },
      output: "raw-answer-triage-high-9904",
      payloads: "raw",
    });
    expect(root.toolCalls.map((c) => [c.name, c.isError, c.childFrameId])).toEqual([
      ["lookup", false, lookup.id],
      ["broken", true, broken.id],
      ["onco", true, denied.id],
    ]);
    expect(lookup.output).toEqual(["case for raw-query-afib-7731"]);
    expect(broken.error).toMatchObject({ code: "http_connection_error" });
    // The denied call ran in a realm the exporter cannot see: its decision stays, its data is hashed.
    expect(denied).toMatchObject({
      loop: { id: "onco-registry", realm: "oncology" },
      authorization: { allowed: false, realm: "oncology", reason: "alice holds no role in realm oncology" },
      payloads: "hashed",
      input: { sha256: sha256Hex(canonicalJson({ q: "raw-onco-peek-5512" })) },
    });
    expect(seenHeaders.some((h) => h.authorization === SECRET_VALUE)).toBe(true);
  });

  it("writes a manifest that matches the files, and records the export in the audit chain", async () => {
    const { manifest } = runBundle;
    expect(manifest).toMatchObject({
      format: "loopstacks-compliance-bundle",
      scope: { kind: "run", runId: runs.first, realmId: "clinic" },
      exporter: { subject: "otto", displayName: `<b>Otto & "Audit"</b>` },
      software: { name: "loopstacks", version: "0.1.0-test" },
      payloads: { clinic: "raw", oncology: "raw" },
      runs: 1,
      frames: 4,
    });
    expect(manifest.files.map((f) => f.name)).toEqual([
      "public-key.pem",
      "VERIFY.md",
      "verify.mjs",
      "report.html",
      "runs.jsonl",
      "frames.jsonl",
      "prompts.jsonl",
      "audit.jsonl",
    ]);
    for (const file of manifest.files) {
      const bytes = readFileSync(join(runBundle.dir, file.name));
      expect(file.sha256).toBe(sha256Hex(bytes));
      expect(file.size).toBe(bytes.length);
    }
    expect(manifest.files.find((f) => f.name === "frames.jsonl")?.records).toBe(4);
    expect(manifest.files.find((f) => f.name === "report.html")?.records).toBeUndefined();
    expect(readFileSync(join(runBundle.dir, "verify.mjs"), "utf8")).toBe(readFileSync(new URL("./verify.mjs", import.meta.url), "utf8"));
    expect(sha256Hex(readFileSync(join(runBundle.dir, "manifest.json")))).toBe(runBundle.manifestSha256);

    // The segment runs from run.started to the denial, both about this run.
    const audit = readLines(join(runBundle.dir, "audit.jsonl"));
    const full = audit.filter((e) => !e.withheld);
    expect(full.map((e) => e.action)).toEqual(["run.started", "invocation.denied"]);
    expect(manifest.auditChain).toMatchObject({ firstSeq: audit[0]!.seq, lastSeq: audit.at(-1)!.seq, headHash: audit.at(-1)!.hash, inScopeEvents: 2 });

    const { db } = rt.database;
    const chain = await verifyAuditChain(db);
    expect(chain.ok).toBe(true);
    const { auditEvents } = await import("../../db/schema");
    const recorded = await db.select().from(auditEvents).where(eq(auditEvents.action, "export.created"));
    const mine = recorded.find((e) => (e.data as { manifestSha256?: string }).manifestSha256 === runBundle.manifestSha256);
    expect(mine).toMatchObject({ realmId: "clinic", targetType: "run", targetId: runs.first, actor: { subject: "otto" } });
  });

  it("includes the exact prompt version the run used, with its promotions", () => {
    const prompts = readLines(join(runBundle.dir, "prompts.jsonl"));
    expect(prompts).toHaveLength(1);
    expect(prompts[0]).toMatchObject({ loopId: "triage", version: 1, systemPrompt: "You triage patients. v1", realmId: "clinic" });
    const promotions = prompts[0]!.promotions as { fromVersion: number | null; toVersion: number }[];
    expect(promotions.map((p) => [p.fromVersion, p.toVersion])).toEqual([
      [null, 1],
      [1, 2],
    ]);
  });

  it("writes a report for a person: who ran what, prompt versions, models, denials and errors, all escaped", () => {
    const html = readFileSync(join(runBundle.dir, "report.html"), "utf8");
    expect(html).toContain("&lt;b&gt;Otto &amp; &quot;Audit&quot;&lt;/b&gt;");
    expect(html).not.toContain("<b>Otto");
    expect(html).toContain("alice holds no role in realm oncology");
    expect(html).toContain("http_connection_error");
    expect(html).toContain("claude-triage");
    expect(html).toMatch(/<td>triage<\/td><td>v1<\/td>/);
    expect(html).toContain("Denied calls (1)");
    expect(html).toContain("Errors (1)");
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
    expect(html).not.toContain("raw-patient-Jane-Roe-4411");
  });

  it("verifies clean with the project's verifier, with node verify.mjs, and with sha256sum and openssl", async () => {
    const fromArchive = await verifyBundle(runBundle.archive);
    expect(fromArchive.problems).toEqual([]);
    expect(fromArchive.ok).toBe(true);
    expect(fromArchive.manifest?.signingKeyId).toBe(runBundle.manifest.signingKeyId);
    expect((await verifyBundle(runBundle.dir)).problems).toEqual([]);
    expect((await verifyBundle(realmBundle.archive)).problems).toEqual([]);

    const node = spawnSync(process.execPath, ["verify.mjs"], { cwd: runBundle.dir, encoding: "utf8" });
    expect(node.status).toBe(0);
    expect(node.stdout).toContain(`signed by key ${runBundle.manifest.signingKeyId}`);

    const sums = spawnSync("sha256sum", ["-c", "SHA256SUMS"], { cwd: runBundle.dir, encoding: "utf8" });
    expect(sums.status).toBe(0);
    expect(sums.stdout.trim().split("\n")).toHaveLength(10);
    expect(sums.stdout).toContain("manifest.sig: OK");

    const sigBin = join(work, `${kind}-manifest.sig.bin`);
    writeFileSync(sigBin, Buffer.from(readFileSync(join(runBundle.dir, "manifest.sig"), "utf8"), "base64"));
    const ossl = spawnSync("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", "public-key.pem", "-rawin", "-in", "manifest.json", "-sigfile", sigBin], {
      cwd: runBundle.dir,
      encoding: "utf8",
    });
    expect(ossl.stdout).toContain("Signature Verified Successfully");
    expect(ossl.status).toBe(0);
    const der = execFileSync("openssl", ["pkey", "-pubin", "-in", "public-key.pem", "-outform", "DER"], { cwd: runBundle.dir });
    expect(sha256Hex(der)).toBe(runBundle.manifest.signingKeyId);

    // The same openssl check fails on a manifest with one byte changed.
    const tampered = copyBundle(runBundle.dir);
    flipByte(join(tampered, "manifest.json"));
    const bad = spawnSync("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", "public-key.pem", "-rawin", "-in", "manifest.json", "-sigfile", sigBin], { cwd: tampered, encoding: "utf8" });
    expect(bad.status).not.toBe(0);
  });

  it("follows the README's and VERIFY.md's standard-tool steps: an intact bundle passes, a record changed with SHA256SUMS and verify.mjs rewritten to match does not", () => {
    const bundleName = runBundle.manifest.bundle;
    const documented = {
      readme: commandsAfter(readFileSync(new URL("../../README.md", import.meta.url), "utf8"), "Verify with standard tools alone"),
      verifyMd: commandsAfter(readFileSync(join(runBundle.dir, "VERIFY.md"), "utf8"), "## With standard tools only"),
    };
    expect(documented.readme).toMatch(/^tar xzf loopstacks-bundle-\*\.tar\.gz/);
    expect(documented.verifyMd).toMatch(new RegExp(`^cd ${bundleName}\n`));
    // As a person pastes them, except that any failing command fails the whole run.
    const follow = (script: string, cwd: string) =>
      spawnSync("bash", ["-e", "-o", "pipefail", "-c", script], { cwd, encoding: "utf8", env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` } });
    /** A folder holding the bundle as an archive (for the README, which starts at tar) and extracted (for VERIFY.md). */
    const place = (source: string) => {
      const parent = mkdtempSync(join(work, "doc-"));
      cpSync(source, join(parent, bundleName), { recursive: true });
      execFileSync("tar", ["czf", `${bundleName}.tar.gz`, bundleName], { cwd: parent });
      const readmeDir = mkdtempSync(join(work, "doc-readme-"));
      cpSync(join(parent, `${bundleName}.tar.gz`), join(readmeDir, `${bundleName}.tar.gz`));
      return { readmeDir, verifyMdDir: parent };
    };

    const intact = place(runBundle.dir);
    for (const [doc, result] of [
      ["README", follow(documented.readme, intact.readmeDir)],
      ["VERIFY.md", follow(documented.verifyMd, intact.verifyMdDir)],
    ] as const) {
      expect(result.status, `${doc}: ${result.stdout}${result.stderr}`).toBe(0);
      expect(result.stdout + result.stderr, doc).toContain("Signature Verified Successfully");
      expect(result.stdout, doc).toContain("runs.jsonl: OK");
    }

    // The run's status rewritten; SHA256SUMS regenerated and verify.mjs replaced, as anyone could.
    const tampered = join(mkdtempSync(join(work, "tampered-")), bundleName);
    cpSync(runBundle.dir, tampered, { recursive: true });
    editLines(join(tampered, "runs.jsonl"), (lines) => lines.map((l) => l.replace('"status":"succeeded"', '"status":"failed"')));
    expect(readFileSync(join(tampered, "runs.jsonl"), "utf8")).toContain('"status":"failed"');
    writeFileSync(join(tampered, "verify.mjs"), 'console.log("OK");\n');
    execFileSync("bash", ["-c", "sha256sum $(cut -c 67- SHA256SUMS) > ../SHA256SUMS.new && mv ../SHA256SUMS.new SHA256SUMS"], { cwd: tampered });
    expect(spawnSync("sha256sum", ["-c", "SHA256SUMS"], { cwd: tampered }).status).toBe(0);
    const forged = place(tampered);
    for (const [doc, result] of [
      ["README", follow(documented.readme, forged.readmeDir)],
      ["VERIFY.md", follow(documented.verifyMd, forged.verifyMdDir)],
    ] as const) {
      expect(result.status, `${doc}: ${result.stdout}${result.stderr}`).not.toBe(0);
      expect(result.stdout, doc).toContain("runs.jsonl: FAILED");
    }
  });

  const expectedForFlip: Record<string, string[]> = {
    "manifest.json": ["manifest.sig: signature does not verify with public-key.pem", "SHA256SUMS: manifest.json: sha256 mismatch"],
    "manifest.sig": ["manifest.sig: signature does not verify with public-key.pem", "SHA256SUMS: manifest.sig: sha256 mismatch"],
    "public-key.pem": ["manifest.sig: signature does not verify with public-key.pem", "public-key.pem: sha256 mismatch"],
  };

  it("names the file when any byte of any file in the bundle is flipped", async () => {
    const names = readdirSync(realmBundle.dir).sort();
    expect(names).toHaveLength(11);
    for (const name of names) {
      const dir = copyBundle(realmBundle.dir);
      flipByte(join(dir, name));
      const result = await verifyBundle(dir);
      expect(result.ok, name).toBe(false);
      if (name === "SHA256SUMS") {
        expect(result.problems.every((p) => p.startsWith("SHA256SUMS: ")), result.problems.join("\n")).toBe(true);
      } else {
        const expected = expectedForFlip[name] ?? [`${name}: sha256 mismatch`, `SHA256SUMS: ${name}: sha256 mismatch`];
        expect(result.problems, name).toEqual(expect.arrayContaining(expected));
      }
    }
  });

  it("reports a deleted line and two swapped lines in each records file", async () => {
    for (const name of ["runs.jsonl", "frames.jsonl", "prompts.jsonl", "audit.jsonl"]) {
      const records = realmBundle.manifest.files.find((f) => f.name === name)!.records!;
      expect(records, name).toBeGreaterThanOrEqual(2);

      const deleted = copyBundle(realmBundle.dir);
      editLines(join(deleted, name), (lines) => lines.filter((_, i) => i !== 1));
      const afterDelete = await verifyBundle(deleted);
      expect(afterDelete.problems, name).toEqual(expect.arrayContaining([`${name}: sha256 mismatch`, `${name}: ${records - 1} records, the manifest says ${records}`]));

      const swapped = copyBundle(realmBundle.dir);
      editLines(join(swapped, name), ([a, b, ...rest]) => [b!, a!, ...rest]);
      const afterSwap = await verifyBundle(swapped);
      expect(afterSwap.problems, name).toContain(`${name}: sha256 mismatch`);
      const lineProblem = name === "audit.jsonl" ? "audit.jsonl line 2: prev_hash does not link to line 1" : `${name} line 2: out of order (it belongs before line 1)`;
      if (name === "frames.jsonl") expect(afterSwap.problems.some((p) => p.startsWith("frames.jsonl line 2: out of order")), afterSwap.problems.join("\n")).toBe(true);
      else expect(afterSwap.problems, name).toContain(lineProblem);
    }
  });

  it("still catches a changed record when the manifest is re-signed with the instance key", async () => {
    // An altered audit event: its hash no longer matches its contents.
    const edited = copyBundle(realmBundle.dir);
    editLines(join(edited, "audit.jsonl"), (lines) =>
      lines.map((l) => {
        const e = JSON.parse(l) as Record<string, unknown>;
        return e.action === "run.started" && e.targetId === runs.second ? JSON.stringify({ ...e, actor: { subject: "mallory" } }) : l;
      }),
    );
    resign(edited, privateKey);
    const result = await verifyBundle(edited);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(/^audit\.jsonl line \d+: hash does not match the event's contents$/);

    // A removed event: the chain has a gap.
    const removed = copyBundle(realmBundle.dir);
    editLines(join(removed, "audit.jsonl"), (lines) => lines.filter((_, i) => i !== 1));
    resign(removed, privateKey);
    expect((await verifyBundle(removed)).problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^audit\.jsonl line 2: seq \d+ does not follow seq \d+ on line 1$/), "audit.jsonl line 2: prev_hash does not link to line 1"]),
    );

    // Two frames swapped within a run.
    const reordered = copyBundle(realmBundle.dir);
    editLines(join(reordered, "frames.jsonl"), ([a, b, ...rest]) => [b!, a!, ...rest]);
    resign(reordered, privateKey);
    expect((await verifyBundle(reordered)).problems).toEqual([expect.stringMatching(/^frames\.jsonl line 2: out of order \(frame seq 0 after seq 1\)$/)]);
  });

  it("detects a replaced key: by key id, or against the published keys when the manifest was rewritten too", async () => {
    const intruder = generateKeyPairSync("ed25519");
    const intruderPem = intruder.publicKey.export({ type: "spki", format: "pem" }).toString();
    const intruderId = sha256Hex(intruder.publicKey.export({ type: "spki", format: "der" }));

    // The key is swapped and the unchanged manifest re-signed: the signature holds, the key id does not.
    const swapped = copyBundle(runBundle.dir);
    writeFileSync(join(swapped, "public-key.pem"), intruderPem);
    const manifestBytes = readFileSync(join(swapped, "manifest.json"));
    writeFileSync(join(swapped, "manifest.sig"), `${sign(null, manifestBytes, intruder.privateKey).toString("base64")}\n`);
    const swappedResult = await verifyBundle(swapped);
    expect(swappedResult.problems).toContain(`public-key.pem: key id ${intruderId} is not the manifest's signingKeyId ${runBundle.manifest.signingKeyId}`);
    expect(swappedResult.problems).not.toContain("manifest.sig: signature does not verify with public-key.pem");

    // Everything rewritten consistently: only the instance's published keys tell it apart.
    const forged = copyBundle(runBundle.dir);
    writeFileSync(join(forged, "public-key.pem"), intruderPem);
    resign(forged, intruder.privateKey, (m) => {
      m.signingKeyId = intruderId;
    });
    expect((await verifyBundle(forged)).problems).toEqual([]);
    const { listPublicKeys, buildPublicKeysDocument } = await import("./signing-keys");
    const published = buildPublicKeysDocument(await listPublicKeys(rt.database.db));
    expect((await verifyBundle(forged, { trustedKeys: published })).problems).toEqual([`public-key.pem: key ${intruderId} is not one of the trusted keys`]);
    expect((await verifyBundle(runBundle.dir, { trustedKeys: published })).problems).toEqual([]);
  });

  it("rejects a truncated archive, and node verify.mjs names what is wrong and exits 1", async () => {
    const cut = join(work, `${kind}-truncated.tar.gz`);
    cpSync(runBundle.archive, cut);
    truncateSync(cut, Math.floor(statSync(cut).size / 2));
    const result = await verifyBundle(cut);
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual(["archive: truncated (the gzip stream ends early)"]);

    const dir = copyBundle(runBundle.dir);
    editLines(join(dir, "frames.jsonl"), (lines) => lines.slice(1));
    const node = spawnSync(process.execPath, [join(dir, "verify.mjs")], { encoding: "utf8" });
    expect(node.status).toBe(1);
    expect(node.stdout).toContain("frames.jsonl: sha256 mismatch");
    expect(node.stdout).toContain("frames.jsonl: 3 records, the manifest says 4");
  });

  it("exports exactly the runs of the realm created in the range, oldest first", () => {
    const exported = readLines(join(realmBundle.dir, "runs.jsonl"));
    expect(exported.map((r) => r.id)).toEqual([runs.second, runs.third]);
    expect(realmBundle.manifest.scope).toEqual({ kind: "realm", realmId: "clinic", from: rangeFrom.toISOString(), to: rangeTo.toISOString() });
    const frameRuns = [...new Set(readLines(join(realmBundle.dir, "frames.jsonl")).map((f) => f.runId))];
    expect(frameRuns).toEqual([runs.second, runs.third]);
    const prompts = readLines(join(realmBundle.dir, "prompts.jsonl"));
    expect(prompts.map((p) => [p.loopId, p.version])).toEqual([
      ["summarize", 1],
      ["triage", 2],
    ]);
    // The oncology run happened inside the range: its events are withheld, never shown.
    const audit = readLines(join(realmBundle.dir, "audit.jsonl"));
    const withheld = audit.filter((e) => e.withheld === true);
    expect(withheld.length).toBeGreaterThan(0);
    expect(withheld.every((e) => Object.keys(e).sort().join() === "hash,prevHash,seq,withheld")).toBe(true);
    expect(allBytes(realmBundle.dir)).not.toContain(runs.oncology);
    expect(allBytes(realmBundle.dir)).not.toContain("oncology-only-secret-case-3321");
  });

  it("treats the range as [from, to): a run at `from` is in, a run at `to` is out", async () => {
    const from = new Date("2031-05-01T00:00:00.000Z");
    const to = new Date("2031-05-02T00:00:00.000Z");
    const atFrom = randomUUID();
    const atTo = randomUUID();
    for (const [id, createdAt] of [
      [atFrom, from],
      [atTo, to],
    ] as const) {
      await insertRun(rt.database.db, { id, realmId: "edges", loopId: "triage", loopRevision: 1, status: "succeeded", input: null, identity: alice, createdAt, deadlineAt: null });
    }
    const bundle = await exportTo({ scope: { kind: "realm", realmId: "edges", from, to }, realms: ["edges"] });
    expect(readLines(join(await extract(bundle.archive), "runs.jsonl")).map((r) => r.id)).toEqual([atFrom]);
    expect(bundle.manifest).toMatchObject({ runs: 1, frames: 0 });
  });

  it("refuses another realm's run and realm with not_found, and an empty or reversed range", async () => {
    const run = await exportTo({ scope: { kind: "run", runId: runs.oncology }, realms: ["clinic"] }).catch((e: unknown) => e);
    expect(isAppError(run, "not_found")).toBe(true);
    const realm = await exportTo({ scope: { kind: "realm", realmId: "oncology", from: rangeFrom, to: rangeTo }, realms: ["clinic"] }).catch((e: unknown) => e);
    expect(isAppError(realm, "not_found")).toBe(true);
    const nothing = await exportTo({ scope: { kind: "run", runId: runs.first }, realms: [] }).catch((e: unknown) => e);
    expect(isAppError(nothing, "not_found")).toBe(true);
    const garbage = await exportTo({ scope: { kind: "run", runId: "'; drop table runs; --" }, realms: "all" }).catch((e: unknown) => e);
    expect(isAppError(garbage, "not_found")).toBe(true);
    const reversed = await exportTo({ scope: { kind: "realm", realmId: "clinic", from: rangeTo, to: rangeFrom }, realms: ["clinic"] }).catch((e: unknown) => e);
    expect(isAppError(reversed, "invalid_request")).toBe(true);
    // With the oncology realm in scope, the same run exports.
    const allowed = await exportTo({ scope: { kind: "run", runId: runs.oncology }, realms: ["oncology"] });
    expect(allowed.manifest.scope).toMatchObject({ kind: "run", runId: runs.oncology, realmId: "oncology" });
  });

  it("claims the output file before anything is exported or audited, and leaves no file when the export fails", async () => {
    const { auditEvents } = await import("../../db/schema");
    const exportEvents = async () => (await rt.database.db.select({ id: auditEvents.id }).from(auditEvents).where(eq(auditEvents.action, "export.created"))).length;
    const before = await exportEvents();
    const existing = join(work, `${kind}-existing.tar.gz`);
    writeFileSync(existing, "an earlier bundle");
    const params = { exporter: auditor, instanceSecret, softwareVersion: "0.1.0-test", scope: { kind: "run" as const, runId: runs.first }, realms: ["clinic"] };
    const taken = await writeBundleFile(rt.database.db, params, existing).catch((e: unknown) => e);
    expect(isAppError(taken, "invalid_request")).toBe(true);
    expect((taken as Error).message).toBe(`${existing} already exists; choose another file, or remove it first`);
    expect(readFileSync(existing, "utf8")).toBe("an earlier bundle");

    // A name known only once the scope is resolved (the CLI's default) is claimed through the hook, as early.
    const claimed: string[] = [];
    const deps = { db: rt.database.db, instanceSecret, softwareVersion: "0.1.0-test" };
    const refusedClaim = await exportBundle(
      {
        ...deps,
        claimOutput: (fileName) => {
          claimed.push(fileName);
          return Promise.reject(new AppError("invalid_request", `${fileName} already exists`));
        },
      },
      await resolveActor(rt.database.db, auditor),
      { kind: "run", runId: runs.first },
    ).catch((e: unknown) => e);
    expect(isAppError(refusedClaim, "invalid_request")).toBe(true);
    expect(claimed).toEqual([expect.stringMatching(new RegExp(`^loopstacks-bundle-run-${runs.first}-\\d{8}T\\d{6}Z\\.tar\\.gz$`))]);
    expect(await exportEvents()).toBe(before);

    const missing = join(work, `${kind}-missing.tar.gz`);
    const failed = await writeBundleFile(rt.database.db, { ...params, scope: { kind: "run", runId: runs.oncology } }, missing).catch((e: unknown) => e);
    expect(isAppError(failed, "not_found")).toBe(true);
    expect(existsSync(missing)).toBe(false);
    expect(await exportEvents()).toBe(before);
  });

  it("lets auditors export through the use case; others get forbidden, or not_found when they cannot even view", async () => {
    const deps = { db: rt.database.db, instanceSecret, softwareVersion: "0.1.0-test" };
    const asAuditor = await exportBundle(deps, await resolveActor(rt.database.db, auditor), { kind: "run", runId: runs.first });
    try {
      expect(asAuditor.manifest.exporter.subject).toBe("otto");
    } finally {
      await asAuditor.dispose();
    }
    const operator = await exportBundle(deps, await resolveActor(rt.database.db, alice), { kind: "run", runId: runs.first }).catch((e: unknown) => e);
    expect(isAppError(operator, "forbidden")).toBe(true);
    const outsider = await rt.grant("oncology", "auditor", "oscar");
    const stranger = await exportBundle(deps, await resolveActor(rt.database.db, outsider), { kind: "run", runId: runs.first }).catch((e: unknown) => e);
    expect(isAppError(stranger, "not_found")).toBe(true);
    const strangerRealm = await exportBundle(deps, await resolveActor(rt.database.db, outsider), { kind: "realm", realmId: "clinic", from: rangeFrom.toISOString(), to: rangeTo.toISOString() }).catch((e: unknown) => e);
    expect(isAppError(strangerRealm, "not_found")).toBe(true);
    const malformed = await exportBundle(deps, await resolveActor(rt.database.db, auditor), { kind: "realm", realmId: "clinic", from: "yesterday", to: "today" }).catch((e: unknown) => e);
    expect(isAppError(malformed, "invalid_request")).toBe(true);
    expect((malformed as { issues: { path: string; message: string }[] }).issues).toEqual([
      { path: "from", message: "must be a date and time with its zone, such as 2026-12-01T00:00:00Z" },
      { path: "to", message: "must be a date and time with its zone, such as 2026-12-01T00:00:00Z" },
    ]);
    // Not a number of milliseconds, nor a boolean, though either could be turned into a date.
    const numeric = await exportBundle(deps, await resolveActor(rt.database.db, auditor), { kind: "realm", realmId: "clinic", from: 0 as unknown as string, to: true as unknown as string }).catch((e: unknown) => e);
    expect((numeric as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual(["from", "to"]);
  });

  it("leaks no raw input, output or secret anywhere in a hashed-payload bundle", async () => {
    const rawFrames = readLines<FrameLine>(join(runBundle.dir, "frames.jsonl"));
    const rawErrorMessage = rawFrames.find((f) => f.loop.id === "broken")!.error!.message as string;
    expect(rawErrorMessage.length).toBeGreaterThan(10);
    await rt.database.db.update(realms).set({ settings: { export: { payloads: "hashed" } } }).where(eq(realms.id, "clinic"));
    try {
      const hashed = await exportTo({ scope: { kind: "run", runId: runs.first }, realms: ["clinic", "oncology"] });
      const dir = await extract(hashed.archive);
      expect((await verifyBundle(hashed.archive)).problems).toEqual([]);
      expect(hashed.manifest.payloads).toEqual({ clinic: "hashed", oncology: "raw" });
      const everything = allBytes(dir);
      for (const raw of [
        "raw-patient-Jane-Roe-4411",
        "raw-query-afib-7731",
        "raw-onco-peek-5512",
        "raw-answer-triage-high-9904",
        "case for raw-query-afib-7731",
        rawErrorMessage,
        SECRET_VALUE,
      ]) {
        expect(everything, raw).not.toContain(raw);
      }
      // Each hash is the SHA-256 of the value's canonical JSON, so a disclosed value can be checked.
      const [root] = readLines<FrameLine>(join(dir, "frames.jsonl")) as [FrameLine];
      expect(root.input).toEqual({ sha256: sha256Hex(canonicalJson({ patient: "raw-patient-Jane-Roe-4411" })) });
      expect(root.output).toEqual({ sha256: sha256Hex(canonicalJson("raw-answer-triage-high-9904")) });
      expect(root.toolCalls[0]!.input).toEqual({ sha256: sha256Hex(canonicalJson({ q: "raw-query-afib-7731" })) });
      const [runLine] = readLines(join(dir, "runs.jsonl"));
      expect(runLine).toMatchObject({ payloads: "hashed", input: { sha256: sha256Hex(canonicalJson({ patient: "raw-patient-Jane-Roe-4411" })) } });
      const valueFile = join(work, `${kind}-value.json`);
      writeFileSync(valueFile, JSON.stringify({ patient: "raw-patient-Jane-Roe-4411" }));
      const hashCli = spawnSync(process.execPath, [join(dir, "verify.mjs"), "--hash", valueFile], { encoding: "utf8" });
      expect(hashCli.stdout.trim()).toBe((root.input as { sha256: string }).sha256);
    } finally {
      await rt.database.db.update(realms).set({ settings: {} }).where(eq(realms.id, "clinic"));
    }
    // Raw mode, for contrast: the same search finds the values, so the search above can fail.
    expect(allBytes(runBundle.dir)).toContain("raw-patient-Jane-Roe-4411");
    expect(allBytes(runBundle.dir)).toContain(rawErrorMessage);
  });
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});
