import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";

import { PromotionForm } from "@/components/prompts/promotion-form";
import { PromptsHeader, promptsPath } from "@/components/prompts/prompt-nav";
import { formatTime } from "@/components/ui/format";
import { buttonClass, cardClass } from "@/components/ui/styles";
import { requireActor } from "@/lib/server/actor";
import { getInstance } from "@/lib/server/instance";
import { orNotFound, param } from "@/lib/server/page";
import { can } from "@/lib/services/actor";
import { getPromptVersion } from "@/lib/services/prompts/get-prompt-version";
import { promoteAction, rollBackAction } from "../actions";
import { FigureRows } from "@/components/prompts/figure-rows";

type Props = { params: Promise<{ id: string; version: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  const { id, version } = await params;
  return { title: `v${version} · ${id}` };
}

export default async function PromptVersionPage({ params, searchParams }: Props) {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const { id: loopId, version: rawVersion } = await params;
  if (!/^\d{1,7}$/.test(rawVersion)) notFound();
  const { database } = await getInstance();
  const detail = await orNotFound(getPromptVersion({ db: database.db }, actor, { loopId, version: rawVersion }));
  const { loop, version, isActive, figures, canPromote } = detail;
  const query = await searchParams;
  const justCreated = param(query.created) === "1";
  const was = /^\d{1,7}$/.test(param(query.was) ?? "") ? param(query.was) : undefined;
  const mode = loop.activeVersion === null || version.version > loop.activeVersion ? "promote" : "rollback";

  return (
    <>
      <PromptsHeader loopId={loop.id} realm={loop.realm} current="version" title={`Version ${version.version}`} canEdit={can(actor, "edit", loop.realm)} />
      {justCreated ? (
        <p role="status" className="mb-4 rounded-md border border-emerald-200 bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:border-emerald-500/30 dark:bg-emerald-500/10 dark:text-emerald-200">
          Version {version.version} is saved. It is not live until you promote it or roll it out.
        </p>
      ) : null}
      {isActive && was !== undefined ? (
        <p role="status" className="mb-4 rounded-md border border-emerald-200 bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:border-emerald-500/30 dark:bg-emerald-500/10 dark:text-emerald-200">
          Version {version.version} is active (was {was}). The next execution in every process runs it.
        </p>
      ) : null}
      <div className="grid gap-6 lg:grid-cols-[minmax(0,1fr)_22rem]">
        <section aria-labelledby="system-heading" className={`${cardClass} min-w-0 p-5`}>
          <h2 id="system-heading" className="mb-3 text-base font-semibold">
            System prompt
          </h2>
          <pre className="max-h-[40rem] overflow-auto whitespace-pre-wrap break-words rounded-md bg-zinc-50 p-3 font-mono text-xs leading-relaxed dark:bg-zinc-950" aria-label="System prompt">
            {version.systemPrompt || "(empty)"}
          </pre>
        </section>
        <aside className="space-y-6">
          <section aria-labelledby="about-heading" className={`${cardClass} p-5 text-sm`}>
            <h2 id="about-heading" className="mb-3 text-base font-semibold">
              {isActive ? (
                <>
                  Active <span className="ml-1 rounded bg-emerald-100 px-1.5 py-0.5 text-[11px] font-medium text-emerald-800 dark:bg-emerald-500/15 dark:text-emerald-300">live</span>
                </>
              ) : (
                "Not active"
              )}
            </h2>
            <dl className="grid grid-cols-[7rem_minmax(0,1fr)] gap-y-1">
              <dt className="text-zinc-500">Author</dt>
              <dd>{version.author}</dd>
              <dt className="text-zinc-500">Created</dt>
              <dd>{formatTime(version.createdAt)}</dd>
              <dt className="text-zinc-500">Message</dt>
              <dd>{version.message || "—"}</dd>
              <dt className="text-zinc-500">Model</dt>
              <dd className="font-mono">{version.params.model ?? "loop default"}</dd>
              <dt className="text-zinc-500">Max tokens</dt>
              <dd>{version.params.maxTokens ?? "loop default"}</dd>
              <dt className="text-zinc-500">Temperature</dt>
              <dd>{version.params.temperature ?? "model default"}</dd>
            </dl>
          </section>
          <section aria-labelledby="figures-heading" className={`${cardClass} p-5 text-sm`}>
            <h2 id="figures-heading" className="mb-3 text-base font-semibold">
              Figures
            </h2>
            <dl className="grid grid-cols-[7rem_minmax(0,1fr)] gap-y-1">
              <FigureRows figures={figures} />
              <dt className="text-zinc-500">First use</dt>
              <dd>{formatTime(figures.firstUsedAt)}</dd>
              <dt className="text-zinc-500">Last use</dt>
              <dd>{formatTime(figures.lastUsedAt)}</dd>
            </dl>
          </section>
          {!isActive && canPromote ? (
            <section aria-labelledby="promote-heading" className={`${cardClass} p-5`}>
              <h2 id="promote-heading" className="mb-3 text-base font-semibold">
                {mode === "promote" ? "Promote" : "Roll back"}
              </h2>
              <PromotionForm loopId={loop.id} version={version.version} mode={mode} action={mode === "promote" ? promoteAction : rollBackAction} />
            </section>
          ) : null}
          <div className="flex flex-wrap gap-2">
            {loop.activeVersion !== null && !isActive ? (
              <Link href={promptsPath(loop.id, `/diff?from=${loop.activeVersion}&to=${version.version}`)} className={buttonClass.secondary}>
                Diff with active
              </Link>
            ) : null}
            {loop.activeVersion !== null && !isActive ? (
              <Link href={promptsPath(loop.id, `/compare?a=${loop.activeVersion}&b=${version.version}`)} className={buttonClass.secondary}>
                Compare with active
              </Link>
            ) : null}
            <Link href={promptsPath(loop.id, `/new?from=${version.version}`)} className={buttonClass.ghost}>
              Start a new version from this one
            </Link>
          </div>
        </aside>
      </div>
    </>
  );
}
