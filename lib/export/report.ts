import { createReadStream } from "node:fs";
import { join } from "node:path";
import { HashingFileWriter, type WrittenFile } from "./file-writer";
import type { ManifestScope, PayloadMode } from "./manifest";
import type { FrameRow, PromptRow, RunRow } from "./queries";
import type { Identity } from "../runtime/types";

/**
 * `report.html`: the bundle for a person. Self-contained (inline CSS, no scripts, no external
 * assets) and built while the records stream, with bounded tables so a huge export still makes a
 * page a browser can open. It never shows inputs or outputs: those live in the JSONL records.
 */

export function escapeHtml(value: unknown): string {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

const MAX_RUN_ROWS = 2_000;
const MAX_FRAME_ROWS = 5_000;
const MAX_LISTED_PROBLEMS = 1_000;

interface ProblemRow {
  runId: string;
  frameId: string;
  loop: string;
  realm: string;
  subject: string;
  at: string;
  text: string;
}

export interface ReportHeader {
  bundle: string;
  scope: ManifestScope;
  exporter: Identity;
  exportedAt: string;
  softwareVersion: string;
  signingKeyId: string;
}

function who(identity: unknown): string {
  const id = (identity ?? {}) as { subject?: string; displayName?: string; kind?: string };
  const name = id.displayName && id.displayName !== id.subject ? `${id.displayName} (${id.subject})` : (id.subject ?? "unknown");
  return id.kind === "service" ? `service ${name}` : name;
}

function time(value: Date | string | null | undefined): string {
  if (!value) return "—";
  return (typeof value === "string" ? value : value.toISOString()).replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function errorText(error: Record<string, unknown> | null, mode: PayloadMode): string {
  if (!error) return "";
  const code = typeof error.code === "string" ? error.code : "error";
  return mode === "hashed" ? `${code} (message withheld: payloads are hashed)` : `${code}: ${String(error.message ?? "")}`;
}

export class ReportBuilder {
  private readonly runRows: HashingFileWriter;
  private readonly frameRows: HashingFileWriter;
  private runCount = 0;
  private frameCount = 0;
  private readonly statusCounts = new Map<string, number>();
  private readonly models = new Map<string, number>();
  private readonly promptUse = new Map<string, number>();
  private readonly denied: ProblemRow[] = [];
  private readonly errors: ProblemRow[] = [];
  private deniedTotal = 0;
  private errorTotal = 0;
  private lastFrameRun: string | null = null;

  constructor(private readonly workDir: string) {
    this.runRows = new HashingFileWriter(join(workDir, "report-runs.part"));
    this.frameRows = new HashingFileWriter(join(workDir, "report-frames.part"));
  }

  async addRun(run: RunRow, mode: PayloadMode): Promise<void> {
    this.runCount++;
    if (this.runCount > MAX_RUN_ROWS) return;
    const error = errorText(run.error, mode);
    await this.runRows.write(
      `<tr><td><code>${escapeHtml(run.id)}</code></td><td>${escapeHtml(run.loopId)} r${escapeHtml(run.loopRevision)}</td><td>${escapeHtml(run.realmId)}</td>` +
        `<td>${escapeHtml(who(run.identity))}</td><td>${escapeHtml(time(run.createdAt))}</td><td>${escapeHtml(time(run.endedAt))}</td>` +
        `<td class="s-${escapeHtml(run.status)}">${escapeHtml(run.status)}</td><td>${escapeHtml(run.frameCount)}</td><td>${escapeHtml(error)}</td></tr>\n`,
    );
  }

  async addFrame(frame: FrameRow, mode: PayloadMode): Promise<void> {
    this.frameCount++;
    this.statusCounts.set(frame.status, (this.statusCounts.get(frame.status) ?? 0) + 1);
    if (frame.model) this.models.set(frame.model, (this.models.get(frame.model) ?? 0) + 1);
    if (frame.promptVersion !== null) {
      const key = `${frame.loopId}\u0000${frame.promptVersion}`;
      this.promptUse.set(key, (this.promptUse.get(key) ?? 0) + 1);
    }
    const authorization = frame.authorization as { allowed?: boolean; reason?: string; role?: string | null; via?: string | null };
    const base = {
      runId: frame.runId,
      frameId: frame.id,
      loop: `${frame.loopId} r${frame.loopRevision}`,
      realm: frame.realmId,
      subject: who(frame.identity),
      at: time(frame.createdAt),
    };
    if (frame.status === "denied") {
      this.deniedTotal++;
      if (this.denied.length < MAX_LISTED_PROBLEMS) this.denied.push({ ...base, text: authorization.reason ?? "no reason recorded" });
    } else if (frame.status === "failed") {
      this.errorTotal++;
      if (this.errors.length < MAX_LISTED_PROBLEMS) this.errors.push({ ...base, text: errorText(frame.error, mode) });
    }
    if (this.frameCount > MAX_FRAME_ROWS) return;
    if (frame.runId !== this.lastFrameRun) {
      this.lastFrameRun = frame.runId;
      await this.frameRows.write(`<tr class="run"><th colspan="10">run <code>${escapeHtml(frame.runId)}</code></th></tr>\n`);
    }
    const allowed = authorization.allowed
      ? `allowed: ${authorization.role ?? ""}${authorization.via ? ` via ${authorization.via}` : ""}`
      : `denied: ${authorization.reason ?? ""}`;
    await this.frameRows.write(
      `<tr><td>${escapeHtml(frame.seq)}</td><td style="padding-left:${Math.min(frame.depth, 20) * 12 + 6}px">${escapeHtml(frame.loopId)} r${escapeHtml(frame.loopRevision)}` +
        `<br><small>${escapeHtml(frame.loopType)} · ${escapeHtml(frame.realmId)}</small></td>` +
        `<td>${frame.promptVersion === null ? "—" : `v${escapeHtml(frame.promptVersion)}`}</td><td>${escapeHtml(frame.model ?? "—")}</td>` +
        `<td>${escapeHtml(who(frame.identity))}</td><td>${escapeHtml(allowed)}</td><td class="s-${escapeHtml(frame.status)}">${escapeHtml(frame.status)}</td>` +
        `<td>${escapeHtml(time(frame.createdAt))}</td><td>${frame.durationMs === null ? "—" : `${escapeHtml(Math.round(frame.durationMs))} ms`}</td>` +
        `<td>${escapeHtml(errorText(frame.error, mode))}</td></tr>\n`,
    );
  }

  /** Writes the finished report to `path`, streaming the row files into it. */
  async finish(path: string, header: ReportHeader, prompts: readonly PromptRow[], modes: ReadonlyMap<string, PayloadMode>): Promise<WrittenFile> {
    const runRows = await this.runRows.close();
    const frameRows = await this.frameRows.close();
    const out = new HashingFileWriter(path);
    try {
      await out.write(this.head(header, modes));
      await out.write(`<h2>Runs (${this.runCount})</h2>\n`);
      if (this.runCount === 0) await out.write("<p>No runs in this scope.</p>\n");
      else {
        await out.write("<table><thead><tr><th>run</th><th>loop</th><th>realm</th><th>run by</th><th>started</th><th>ended</th><th>status</th><th>frames</th><th>error</th></tr></thead><tbody>\n");
        await pipeFile(runRows.path, out);
        await out.write("</tbody></table>\n");
        if (this.runCount > MAX_RUN_ROWS) await out.write(`<p class="note">The first ${MAX_RUN_ROWS} runs are listed; runs.jsonl holds all ${this.runCount}.</p>\n`);
      }
      await out.write(this.promptsSection(prompts));
      await out.write(this.modelsSection());
      await out.write(this.problemsSection("Denied calls", "Each call refused by the authorization check before dispatch, with the server's reason.", this.denied, this.deniedTotal));
      await out.write(this.problemsSection("Errors", "Frames that failed.", this.errors, this.errorTotal));
      await out.write(`<h2>Frames (${this.frameCount})</h2>\n`);
      if (this.frameCount > 0) {
        await out.write("<table><thead><tr><th>#</th><th>loop</th><th>prompt</th><th>model</th><th>identity</th><th>authorization</th><th>status</th><th>created</th><th>duration</th><th>error</th></tr></thead><tbody>\n");
        await pipeFile(frameRows.path, out);
        await out.write("</tbody></table>\n");
        if (this.frameCount > MAX_FRAME_ROWS) await out.write(`<p class="note">The first ${MAX_FRAME_ROWS} frames are listed; frames.jsonl holds all ${this.frameCount}.</p>\n`);
      }
      await out.write("</main></body></html>\n");
      return await out.close();
    } catch (error) {
      out.abort();
      throw error;
    }
  }

  private head(header: ReportHeader, modes: ReadonlyMap<string, PayloadMode>): string {
    const scope =
      header.scope.kind === "run"
        ? `run <code>${escapeHtml(header.scope.runId)}</code> in realm ${escapeHtml(header.scope.realmId)}`
        : `realm ${escapeHtml(header.scope.realmId)}, runs created from ${escapeHtml(time(header.scope.from))} up to (not including) ${escapeHtml(time(header.scope.to))}`;
    const statuses = [...this.statusCounts].sort().map(([s, n]) => `${escapeHtml(s)}: ${n}`).join(", ") || "none";
    const payloads = [...modes].sort().map(([realm, mode]) => `${escapeHtml(realm)}: ${mode === "hashed" ? "SHA-256 only" : "verbatim"}`).join(", ") || "—";
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>LoopStacks compliance report — ${escapeHtml(header.bundle)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1f24;margin:0;background:#fff}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa}code{font-size:12px}small{color:#57606a}.note{color:#57606a}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px}dt{color:#57606a}dd{margin:0}
.s-denied,.s-failed{color:#b42318;font-weight:600}.s-succeeded{color:#1a7f37}.s-cancelled{color:#9a6700}
</style></head><body><main>
<h1>Compliance report</h1>
<p class="note">Generated by LoopStacks from the records in this bundle. The records and their signature, not this page, are the evidence: see VERIFY.md.</p>
<dl>
<dt>Scope</dt><dd>${scope}</dd>
<dt>Exported by</dt><dd>${escapeHtml(who(header.exporter))} <small>${escapeHtml(header.exporter.source)}</small></dd>
<dt>Exported at</dt><dd>${escapeHtml(time(header.exportedAt))}</dd>
<dt>Software</dt><dd>LoopStacks ${escapeHtml(header.softwareVersion)}</dd>
<dt>Signing key</dt><dd><code>${escapeHtml(header.signingKeyId)}</code></dd>
<dt>Payloads</dt><dd>${payloads} <small>(realm settings; frames in realms outside the exporter's export roles are always hashed)</small></dd>
<dt>Frames</dt><dd>${this.frameCount} (${statuses})</dd>
</dl>
`;
  }

  private promptsSection(prompts: readonly PromptRow[]): string {
    let html = `<h2>Prompt versions used (${prompts.length})</h2>\n`;
    if (prompts.length === 0) return `${html}<p>No LLM frames in this scope.</p>\n`;
    html += "<table><thead><tr><th>loop</th><th>version</th><th>author</th><th>created</th><th>message</th><th>frames</th></tr></thead><tbody>\n";
    for (const p of prompts) {
      html += `<tr><td>${escapeHtml(p.loopId)}</td><td>v${escapeHtml(p.version)}</td><td>${escapeHtml(p.author)}</td><td>${escapeHtml(time(p.createdAt))}</td><td>${escapeHtml(p.message)}</td><td>${this.promptUse.get(`${p.loopId}\u0000${p.version}`) ?? 0}</td></tr>\n`;
    }
    return `${html}</tbody></table>\n<p class="note">Full texts and every promotion or rollback of these versions are in prompts.jsonl.</p>\n`;
  }

  private modelsSection(): string {
    let html = `<h2>Models</h2>\n`;
    if (this.models.size === 0) return `${html}<p>No model calls in this scope.</p>\n`;
    html += "<table><thead><tr><th>model</th><th>frames</th></tr></thead><tbody>\n";
    for (const [model, count] of [...this.models].sort()) html += `<tr><td>${escapeHtml(model)}</td><td>${count}</td></tr>\n`;
    return `${html}</tbody></table>\n`;
  }

  private problemsSection(title: string, intro: string, rows: readonly ProblemRow[], total: number): string {
    let html = `<h2>${escapeHtml(title)} (${total})</h2>\n`;
    if (total === 0) return `${html}<p>None.</p>\n`;
    html += `<p>${escapeHtml(intro)}</p>\n<table><thead><tr><th>when</th><th>run</th><th>frame</th><th>loop</th><th>realm</th><th>identity</th><th>why</th></tr></thead><tbody>\n`;
    for (const r of rows) {
      html += `<tr><td>${escapeHtml(r.at)}</td><td><code>${escapeHtml(r.runId)}</code></td><td><code>${escapeHtml(r.frameId)}</code></td><td>${escapeHtml(r.loop)}</td><td>${escapeHtml(r.realm)}</td><td>${escapeHtml(r.subject)}</td><td>${escapeHtml(r.text)}</td></tr>\n`;
    }
    html += "</tbody></table>\n";
    if (total > rows.length) html += `<p class="note">The first ${rows.length} are listed; frames.jsonl holds all ${total}.</p>\n`;
    return html;
  }

  abort(): void {
    this.runRows.abort();
    this.frameRows.abort();
  }
}

async function pipeFile(path: string, out: HashingFileWriter): Promise<void> {
  for await (const chunk of createReadStream(path, { encoding: "utf8", highWaterMark: 256 * 1024 })) {
    await out.write(chunk as string);
  }
}
