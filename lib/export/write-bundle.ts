import { mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Db } from "../../db/client";
import { appendAuditEvent } from "../../db/queries/audit";
import type { RealmScope } from "../../db/queries/scope";
import { sha256Hex } from "../canonical-json";
import { AppError } from "../errors";
import type { Identity } from "../runtime/types";
import { HashingFileWriter, type WrittenFile } from "./file-writer";
import { checkInstant, INSTANT_MESSAGE } from "./instant";
import {
  formatChecksums,
  serializeManifest,
  signManifest,
  type BundleManifest,
  type ExportScope,
  type ManifestAuditChain,
  type ManifestFile,
  type ManifestScope,
  type PayloadMode,
} from "./manifest";
import { createOutputFile } from "./output-file";
import {
  auditScopeCondition,
  getAuditSegmentBounds,
  getExportRun,
  getPayloadModes,
  getPromotions,
  getPromptVersions,
  pageAuditSegment,
  pageRealmRuns,
  pageRunFrames,
  realmExists,
  runFrameRealms,
  type PromptRow,
  type RunRow,
} from "./queries";
import { auditRecord, frameRecord, jsonLine, promptRecord, runRecord } from "./records";
import { ReportBuilder } from "./report";
import { getOrCreateSigningKey, type InstanceSecret } from "./signing-keys";
import { tarGzStream, type TarEntry } from "./tar";
import { verifyDocument } from "./verify-doc";

export interface PrepareBundleParams {
  scope: ExportScope;
  exporter: Identity;
  /** The realms the exporter may export from; a run or realm outside them is `not_found`. */
  realms: RealmScope;
  /** Decrypts the instance's signing key (see `loadOrCreateInstanceSecret`). */
  instanceSecret: InstanceSecret;
  /** The running LoopStacks version, recorded in the manifest. */
  softwareVersion: string;
  now?: () => Date;
  /** Where the data files are staged before they are archived; the OS temp folder by default. */
  tempDir?: string;
  pageSize?: number;
  /**
   * Called with the archive's file name once it is known, before anything is staged, signed or
   * audited: a caller that writes the archive to a file claims it here, so a file it cannot
   * create costs no export and records none. A throw abandons the export.
   */
  claimOutput?: (fileName: string) => Promise<void>;
}

export interface PreparedBundle {
  /** The top-level folder inside the archive. */
  folder: string;
  fileName: string;
  manifest: BundleManifest;
  manifestSha256: string;
  /** The `.tar.gz` as a stream, once; the staged files are removed when it ends or fails. */
  archive(): Readable;
  /** Removes the staged files without archiving (for a request that was abandoned). */
  dispose(): Promise<void>;
}

const DEFAULT_PAGE_SIZE = 1000;
const VERIFY_SCRIPT = new URL("./verify.mjs", import.meta.url);
/** The archive order: what a person opening it looks for first, then the records. */
const ARCHIVE_ORDER = [
  "manifest.json",
  "manifest.sig",
  "public-key.pem",
  "SHA256SUMS",
  "VERIFY.md",
  "verify.mjs",
  "report.html",
  "runs.jsonl",
  "frames.jsonl",
  "prompts.jsonl",
  "audit.jsonl",
];

function compactTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/** Short enough that the folder name fits a ustar name field (100 bytes) on its own. */
function safeSlug(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 40);
}

interface ResolvedScope {
  manifestScope: ManifestScope;
  folderScope: string;
  runs: (db: Db, pageSize: number) => AsyncGenerator<RunRow[]>;
  audit: { condition: ReturnType<typeof auditScopeCondition>; notBefore: Date };
  auditTarget: { realmId: string; targetType: "run" | "realm"; targetId: string };
}

async function resolveScope(db: Db, scope: ExportScope, realms: RealmScope): Promise<ResolvedScope> {
  if (scope.kind === "run") {
    const run = await getExportRun(db, scope.runId, realms);
    if (!run) throw new AppError("not_found", `Run ${scope.runId} does not exist`);
    return {
      manifestScope: { kind: "run", runId: run.id, realmId: run.realmId },
      folderScope: `run-${run.id}`,
      runs: async function* (tx) {
        // Re-read inside the snapshot so the run line matches its frames.
        const current = await getExportRun(tx, run.id, "all");
        if (current) yield [current];
      },
      audit: { condition: auditScopeCondition({ kind: "run", runId: run.id }), notBefore: run.createdAt },
      auditTarget: { realmId: run.realmId, targetType: "run", targetId: run.id },
    };
  }
  const { realmId, from, to } = scope;
  const issues = (["from", "to"] as const).flatMap((path) => {
    const checked = scope[path] instanceof Date ? checkInstant(scope[path]) : { ok: false as const, message: INSTANT_MESSAGE };
    return checked.ok ? [] : [{ path, message: checked.message }];
  });
  if (issues.length > 0) throw new AppError("invalid_request", "An export range needs valid from and to times", { issues });
  if (from.getTime() >= to.getTime()) {
    throw new AppError("invalid_request", "An export range must end after it starts", { issues: [{ path: "to", message: "must be after from" }] });
  }
  if (!(await realmExists(db, realmId, realms))) throw new AppError("not_found", `Realm ${realmId} does not exist`);
  return {
    manifestScope: { kind: "realm", realmId, from: from.toISOString(), to: to.toISOString() },
    folderScope: `realm-${safeSlug(realmId)}`,
    runs: (tx, pageSize) => pageRealmRuns(tx, { realmId, from, to, pageSize }),
    audit: { condition: auditScopeCondition({ kind: "realm", realmId, from, to }), notBefore: from },
    auditTarget: { realmId, targetType: "realm", targetId: realmId },
  };
}

function inScope(realms: RealmScope, realmId: string): boolean {
  return realms === "all" || realms.includes(realmId);
}

interface StagedData {
  files: Map<string, WrittenFile & { isRecords: boolean }>;
  auditChain: ManifestAuditChain | null;
  payloads: Map<string, PayloadMode>;
  prompts: PromptRow[];
  runs: number;
  frames: number;
}

/**
 * Streams the records into staged files inside one consistent snapshot. Memory holds one page
 * of rows at a time, plus the small sets the prompts file and the report need.
 */
async function stageRecords(db: Db, resolved: ResolvedScope, params: PrepareBundleParams, dir: string, report: ReportBuilder): Promise<StagedData> {
  const pageSize = params.pageSize ?? DEFAULT_PAGE_SIZE;
  const writers = {
    runs: new HashingFileWriter(join(dir, "runs.jsonl")),
    frames: new HashingFileWriter(join(dir, "frames.jsonl")),
    prompts: new HashingFileWriter(join(dir, "prompts.jsonl")),
    audit: new HashingFileWriter(join(dir, "audit.jsonl")),
  };
  try {
    return await db.transaction(
      async (tx) => {
        const tdb = tx as unknown as Db;
        const payloads = new Map<string, PayloadMode>();
        const promptKeys = new Map<string, { loopId: string; version: number }>();
        let runCount = 0;
        let frameCount = 0;

        for await (const page of resolved.runs(tdb, pageSize)) {
          const realmsByRun = await runFrameRealms(tdb, page.map((r) => r.id));
          for (const run of page) {
            runCount++;
            const frameRealms = realmsByRun.get(run.id) ?? [];
            const unknown = [run.realmId, ...frameRealms].filter((r) => !payloads.has(r));
            for (const [realm, mode] of await getPayloadModes(tdb, unknown)) payloads.set(realm, mode);
            // Inputs flow from parent to child and outputs back, so one hashed realm hashes the whole run.
            const runMode: PayloadMode = [run.realmId, ...frameRealms].some((r) => payloads.get(r) === "hashed") ? "hashed" : "raw";
            await writers.runs.write(jsonLine(runRecord(run, runMode)));
            await report.addRun(run, runMode);
            for await (const frames of pageRunFrames(tdb, { runId: run.id, pageSize })) {
              for (const frame of frames) {
                frameCount++;
                // A frame in a realm the exporter cannot see keeps its decision and shape, not its data.
                const mode: PayloadMode = inScope(params.realms, frame.realmId) ? runMode : "hashed";
                await writers.frames.write(jsonLine(frameRecord(frame, mode)));
                await report.addFrame(frame, mode);
                if (frame.promptVersion !== null) promptKeys.set(`${frame.loopId}\u0000${frame.promptVersion}`, { loopId: frame.loopId, version: frame.promptVersion });
              }
            }
          }
        }

        const prompts = await getPromptVersions(tdb, [...promptKeys.values()]);
        const promotions = await getPromotions(tdb, [...new Set(prompts.map((p) => p.loopId))]);
        for (const prompt of prompts) {
          const visible = prompt.realmId !== null && inScope(params.realms, prompt.realmId);
          await writers.prompts.write(jsonLine(promptRecord(prompt, promotions.filter((p) => p.loopId === prompt.loopId), visible)));
        }

        let auditChain: ManifestAuditChain | null = null;
        const bounds = await getAuditSegmentBounds(tdb, resolved.audit.condition, resolved.audit.notBefore);
        if (bounds) {
          let first: { prevHash: string } | null = null;
          let last: { hash: string } | null = null;
          let events = 0;
          let inScopeEvents = 0;
          for await (const rows of pageAuditSegment(tdb, { ...bounds, condition: resolved.audit.condition, pageSize: 1000 })) {
            for (const row of rows) {
              first ??= row;
              last = row;
              events++;
              if (row.inScope) inScopeEvents++;
              await writers.audit.write(jsonLine(auditRecord(row)));
            }
          }
          if (first && last) {
            auditChain = {
              firstSeq: bounds.firstSeq,
              lastSeq: bounds.lastSeq,
              firstPrevHash: first.prevHash,
              headHash: last.hash,
              events,
              inScopeEvents,
              withheldEvents: events - inScopeEvents,
            };
          }
        }

        const files = new Map<string, WrittenFile & { isRecords: boolean }>();
        for (const [name, writer] of [
          ["runs.jsonl", writers.runs],
          ["frames.jsonl", writers.frames],
          ["prompts.jsonl", writers.prompts],
          ["audit.jsonl", writers.audit],
        ] as const) {
          files.set(name, { ...(await writer.close()), isRecords: true });
        }
        return { files, auditChain, payloads, prompts, runs: runCount, frames: frameCount };
      },
      { isolationLevel: "repeatable read", accessMode: "read only" },
    );
  } catch (error) {
    for (const writer of Object.values(writers)) writer.abort();
    throw error;
  }
}

async function writeSmallFile(dir: string, name: string, data: Buffer | string): Promise<WrittenFile & { isRecords: boolean }> {
  const writer = new HashingFileWriter(join(dir, name));
  await writer.write(typeof data === "string" ? data : data.toString("utf8"));
  return { ...(await writer.close()), isRecords: false };
}

/**
 * Gathers, signs and stages a compliance bundle, and records the export in the audit chain.
 * Errors a caller must see (`not_found`, `invalid_request`) are thrown here, before anything
 * streams, so an adapter can still answer with a status code.
 *
 * The `export.created` event is appended after signing because it records the manifest's
 * SHA-256; it therefore shows up in later bundles, never in its own.
 */
export async function prepareBundle(db: Db, params: PrepareBundleParams): Promise<PreparedBundle> {
  const now = params.now ?? (() => new Date());
  const resolved = await resolveScope(db, params.scope, params.realms);
  const exportedAt = now();
  const folder = `loopstacks-bundle-${resolved.folderScope}-${compactTimestamp(exportedAt)}`;
  await params.claimOutput?.(`${folder}.tar.gz`);
  const key = await getOrCreateSigningKey(db, params.instanceSecret);
  const workDir = await mkdtemp(join(params.tempDir ?? tmpdir(), "loopstacks-export-"));
  const dir = join(workDir, folder);
  let disposed = false;
  let archived = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    await rm(workDir, { recursive: true, force: true });
  };
  const report = new ReportBuilder(workDir);

  try {
    await mkdir(dir, { mode: 0o700 });
    const staged = await stageRecords(db, resolved, params, dir, report);
    const exporter = exporterRecord(params.exporter);
    const payloads = Object.fromEntries([...staged.payloads].sort(([a], [b]) => (a < b ? -1 : 1)));
    const files = staged.files;

    const reportHeader = {
      bundle: folder,
      scope: resolved.manifestScope,
      exporter,
      exportedAt: exportedAt.toISOString(),
      softwareVersion: params.softwareVersion,
      signingKeyId: key.id,
    };
    files.set("report.html", { ...(await report.finish(join(dir, "report.html"), reportHeader, staged.prompts, staged.payloads)), isRecords: false });
    files.set("public-key.pem", await writeSmallFile(dir, "public-key.pem", key.publicKeyPem));
    files.set("verify.mjs", await writeSmallFile(dir, "verify.mjs", await readFile(VERIFY_SCRIPT)));
    files.set("VERIFY.md", await writeSmallFile(dir, "VERIFY.md", verifyDocument({ folder, keyId: key.id, hashedRealms: Object.keys(payloads).filter((r) => payloads[r] === "hashed") })));

    const manifestFiles: ManifestFile[] = [...files.entries()]
      .sort(([a], [b]) => ARCHIVE_ORDER.indexOf(a) - ARCHIVE_ORDER.indexOf(b))
      .map(([name, f]) => ({ name, sha256: f.sha256, size: f.size, ...(f.isRecords ? { records: f.lines } : {}) }));
    const manifest: BundleManifest = {
      format: "loopstacks-compliance-bundle",
      formatVersion: 1,
      bundle: folder,
      scope: resolved.manifestScope,
      exporter,
      exportedAt: exportedAt.toISOString(),
      software: { name: "loopstacks", version: params.softwareVersion },
      payloads,
      runs: staged.runs,
      frames: staged.frames,
      files: manifestFiles,
      auditChain: staged.auditChain,
      signingKeyId: key.id,
    };
    const manifestBytes = serializeManifest(manifest);
    const manifestSha256 = sha256Hex(manifestBytes);
    const manifestFile = await writeSmallFile(dir, "manifest.json", manifestBytes);
    const signatureFile = await writeSmallFile(dir, "manifest.sig", signManifest(manifestBytes, key.privateKey));
    // SHA256SUMS covers every other file, the signature included, so `sha256sum -c` checks it all.
    const checksummed = [
      { name: "manifest.json", sha256: manifestFile.sha256 },
      { name: "manifest.sig", sha256: signatureFile.sha256 },
      ...manifestFiles.map((f) => ({ name: f.name, sha256: f.sha256 })),
    ];
    const checksumsFile = await writeSmallFile(dir, "SHA256SUMS", formatChecksums(checksummed));

    await appendAuditEvent(db, {
      action: "export.created",
      actor: { subject: exporter.subject, kind: exporter.kind, source: exporter.source },
      realmId: resolved.auditTarget.realmId,
      targetType: resolved.auditTarget.targetType,
      targetId: resolved.auditTarget.targetId,
      data: {
        scope: resolved.manifestScope,
        bundle: folder,
        manifestSha256,
        signingKeyId: key.id,
        runs: staged.runs,
        frames: staged.frames,
        auditSegment: staged.auditChain ? { firstSeq: staged.auditChain.firstSeq, lastSeq: staged.auditChain.lastSeq, headHash: staged.auditChain.headHash } : null,
      },
    });

    const sizes = new Map<string, number>([
      ["manifest.json", manifestFile.size],
      ["manifest.sig", signatureFile.size],
      ["SHA256SUMS", checksumsFile.size],
      ...manifestFiles.map((f) => [f.name, f.size] as [string, number]),
    ]);
    const entries: TarEntry[] = [
      { type: "directory", name: `${folder}/`, mtime: exportedAt },
      ...ARCHIVE_ORDER.map(
        (name): TarEntry => ({ type: "file", name: `${folder}/${name}`, mtime: exportedAt, size: sizes.get(name)!, source: { path: join(dir, name) } }),
      ),
    ];
    for (const name of ARCHIVE_ORDER) {
      if ((await stat(join(dir, name))).size !== sizes.get(name)) throw new AppError("internal", `${name} changed while the bundle was prepared`);
    }

    return {
      folder,
      fileName: `${folder}.tar.gz`,
      manifest,
      manifestSha256,
      archive() {
        if (disposed || archived) throw new AppError("internal", "This bundle was already archived or disposed; prepare it again");
        const stream = tarGzStream(entries);
        const cleanup = () => void dispose();
        // Mark it used at once: a second archive() would race the clean-up below.
        archived = true;
        stream.once("end", cleanup);
        stream.once("error", cleanup);
        stream.once("close", cleanup);
        return stream;
      },
      dispose,
    };
  } catch (error) {
    report.abort();
    await dispose();
    throw error;
  }
}

function exporterRecord(identity: Identity): Identity {
  return {
    subject: identity.subject,
    ...(identity.displayName ? { displayName: identity.displayName } : {}),
    groups: [...identity.groups],
    kind: identity.kind,
    source: identity.source,
  };
}

/** Prepares a bundle and writes the archive to `path`, which must not exist yet; it is created before anything is exported. */
export async function writeBundleFile(db: Db, params: PrepareBundleParams, path: string): Promise<{ path: string; manifest: BundleManifest; manifestSha256: string; size: number }> {
  const output = await createOutputFile(path);
  try {
    const bundle = await prepareBundle(db, params);
    try {
      await pipeline(bundle.archive(), output.writable());
    } finally {
      await bundle.dispose();
    }
    return { path, manifest: bundle.manifest, manifestSha256: bundle.manifestSha256, size: (await stat(path)).size };
  } catch (error) {
    await output.discard();
    throw error;
  }
}
