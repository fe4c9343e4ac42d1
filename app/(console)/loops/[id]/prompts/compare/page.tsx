import type { Metadata } from "next";
import Link from "next/link";
import { AutoRefresh } from "@/components/prompts/auto-refresh";

import { PromptsHeader, promptsPath } from "@/components/prompts/prompt-nav";
import { ReplayForm } from "@/components/prompts/replay-form";
import { ScoreForm } from "@/components/prompts/score-form";
import { VersionPicker } from "@/components/prompts/version-picker";
import { EmptyState } from "@/components/ui/empty-state";
import { formatDuration, formatTime, shortId } from "@/components/ui/format";
import { JsonBlock } from "@/components/ui/json-block";
import { cardClass, linkClass } from "@/components/ui/styles";
import { requireActor } from "@/lib/server/actor";
import { getInstance } from "@/lib/server/instance";
import { orNotFound, param, pickNumber } from "@/lib/server/page";
import { can } from "@/lib/services/actor";
import { comparePromptVersions, type ComparedRun, type ComparedVersion } from "@/lib/services/prompts/compare-prompt-versions";
import { listPromptVersions } from "@/lib/services/prompts/list-prompt-versions";
import { listReplaySources } from "@/lib/services/prompts/list-replay-sources";
import { scoreFrameAction } from "../actions";
import { replayAction } from "./actions";
import { FigureRows } from "@/components/prompts/figure-rows";

type Props = { params: Promise<{ id: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `Compare · ${(await params).id}` };
}


export default async function ComparePromptsPage({ params, searchParams }: Props) {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const { id: loopId } = await params;
  const query = await searchParams;
  const { database } = await getInstance();
  const deps = { db: database.db };
  const { loop, versions, canEdit } = await orNotFound(listPromptVersions(deps, actor, { loopId }));
  const numbers = versions.map((v) => v.version);
  const a = pickNumber(param(query.a), numbers) ?? loop.activeVersion ?? numbers.at(-1);
  const b = pickNumber(param(query.b), numbers) ?? numbers.find((n) => n !== a) ?? a;
  const failed = Number(param(query.failed) ?? 0);

  if (a === undefined || b === undefined) {
    return (
      <>
        <PromptsHeader loopId={loop.id} realm={loop.realm} current="compare" title="Compare versions" canEdit={canEdit} />
        <EmptyState title="No prompt versions yet" />
      </>
    );
  }
  const [comparison, sources] = await Promise.all([
    orNotFound(comparePromptVersions(deps, actor, { loopId: loop.id, a, b, replays: param(query.replays) })),
    orNotFound(listReplaySources(deps, actor, { loopId: loop.id, version: a })),
  ]);
  const canScore = can(actor, "run", loop.realm);
  const isReplaying = comparison.replays.some(({ replay }) => replay.status === "running" || replay.status === "queued");

  return (
    <>
      <PromptsHeader loopId={loop.id} realm={loop.realm} current="compare" title="Compare versions" canEdit={canEdit} />
      <VersionPicker versions={numbers} first={a} second={b} names={["a", "b"]} submitLabel="Compare" />
      <div className="grid gap-6 md:grid-cols-2">
        <VersionColumn loopId={loop.id} compared={comparison.a} />
        <VersionColumn loopId={loop.id} compared={comparison.b} />
      </div>
      <p className="mt-3 text-sm">
        <Link href={promptsPath(loop.id, `/diff?from=${a}&to=${b}`)} className={linkClass}>
          Line diff of v{a} and v{b}
        </Link>
      </p>

      <section aria-labelledby="replays-heading" className="mt-8">
        <h2 id="replays-heading" className="mb-3 text-lg font-semibold">
          Replays
        </h2>
        <AutoRefresh isActive={isReplaying} />
        {failed > 0 ? (
          <p role="alert" className="mb-3 text-sm text-amber-700 dark:text-amber-400">
            {failed} chosen run{failed === 1 ? "" : "s"} could not be replayed: the input no longer fits the loop.
          </p>
        ) : null}
        {comparison.replays.length > 0 ? (
          <div className="space-y-4">
            {comparison.replays.map(({ source, replay }) => (
              <article key={replay.runId} className={`${cardClass} p-4`} aria-label={`Replay of run ${shortId(source.runId)}`}>
                <h3 className="mb-2 text-sm font-medium">Input</h3>
                <JsonBlock label="Input" value={source.input} maxHeight="8rem" />
                <div className="mt-3 grid gap-4 md:grid-cols-2">
                  <RunColumn title={`Original (v${source.promptVersion ?? "?"})`} run={source} canScore={canScore} />
                  <RunColumn title={`Replay (v${replay.promptVersion ?? b})`} run={replay} canScore={canScore} />
                </div>
              </article>
            ))}
            {isReplaying ? <p className="text-sm text-zinc-500">Replays are running; this page refreshes until they end.</p> : null}
          </div>
        ) : null}
        <div className={`${cardClass} mt-6 p-5`}>
          <h3 className="mb-3 text-base font-semibold">Replay recent runs</h3>
          {comparison.canRun ? (
            <ReplayForm loopId={loop.id} versions={numbers} defaultVersion={b} compareWith={a} sources={sources.runs} action={replayAction} />
          ) : (
            <p className="text-sm text-zinc-500">Replaying runs in realm {loop.realm} needs the operator, maintainer or admin role.</p>
          )}
        </div>
      </section>
    </>
  );
}

function VersionColumn({ loopId, compared }: { loopId: string; compared: ComparedVersion }) {
  const { version } = compared;
  return (
    <section aria-label={`Version ${version.version}`} className={`${cardClass} p-5 text-sm`}>
      <h2 className="mb-2 text-base font-semibold">
        <Link href={promptsPath(loopId, `/${version.version}`)} className="hover:underline">
          Version {version.version}
        </Link>
        {compared.isActive ? (
          <span className="ml-2 rounded bg-emerald-100 px-1.5 py-0.5 text-[11px] font-medium text-emerald-800 dark:bg-emerald-500/15 dark:text-emerald-300">active</span>
        ) : null}
      </h2>
      <p className="mb-3 text-xs text-zinc-500">
        {version.author}, {formatTime(version.createdAt)} — {version.message || "no message"}
      </p>
      <dl className="grid grid-cols-[8rem_minmax(0,1fr)] gap-y-1">
        <FigureRows figures={compared.figures} />
        <dt className="text-zinc-500">Model</dt>
        <dd className="font-mono">{version.params.model ?? "loop default"}</dd>
      </dl>
      <details className="mt-3">
        <summary className="cursor-pointer text-xs text-zinc-500">System prompt</summary>
        <pre className="mt-2 max-h-64 overflow-auto whitespace-pre-wrap rounded-md bg-zinc-50 p-3 font-mono text-xs dark:bg-zinc-950">{version.systemPrompt || "(empty)"}</pre>
      </details>
    </section>
  );
}

function RunColumn({ title, run, canScore }: { title: string; run: ComparedRun; canScore: boolean }) {
  return (
    <div className="min-w-0 space-y-2">
      <h4 className="flex items-baseline justify-between gap-2 text-sm font-medium">
        <span>{title}</span>
        <Link href={`/runs/${run.runId}`} className="font-mono text-xs text-indigo-600 hover:underline dark:text-indigo-400">
          {shortId(run.runId)}
        </Link>
      </h4>
      <p className="text-xs text-zinc-500">
        {run.status} · {formatDuration(run.durationMs)} · {run.inputTokens + run.outputTokens} tokens
      </p>
      {run.status === "running" || run.status === "queued" ? (
        <p className="text-sm text-zinc-500">Running…</p>
      ) : (
        <JsonBlock label={`${title} output`} value={run.error ?? run.output} maxHeight="14rem" />
      )}
      {run.scores.length > 0 ? (
        <ul className="text-xs" aria-label="Scores">
          {run.scores.map((score) => (
            <li key={score.id}>
              <span className="font-medium">{score.name}</span> {score.value ?? ""} {score.label ?? ""} <span className="text-zinc-500">— {score.source}, {score.author}</span>
              {score.comment ? <span className="block text-zinc-500">{score.comment}</span> : null}
            </li>
          ))}
        </ul>
      ) : (
        <p className="text-xs text-zinc-500">No scores yet.</p>
      )}
      {canScore && run.rootFrameId && run.status !== "running" ? <ScoreForm frameId={run.rootFrameId} action={scoreFrameAction} /> : null}
    </div>
  );
}
