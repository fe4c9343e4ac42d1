import type { Metadata } from "next";
import Link from "next/link";
import { RunForm } from "@/components/loops/run-form";
import { Badge, TypeBadge } from "@/components/ui/badge";
import { formatTime } from "@/components/ui/format";
import { JsonBlock } from "@/components/ui/json-block";
import { PageHeader } from "@/components/ui/page-header";
import { buttonClass, cardClass, linkClass } from "@/components/ui/styles";
import { requireActor } from "@/lib/server/actor";
import { getInstance } from "@/lib/server/instance";
import { orNotFound } from "@/lib/server/page";
import { getLoop } from "@/lib/services/get-loop";
import { startRunAction } from "./actions";

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  return { title: (await params).id };
}

export default async function LoopPage({ params }: { params: Promise<{ id: string }> }) {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const { id: loopId } = await params;
  const instance = await getInstance();
  const { loop, revisions, activePrompt, sampleInput, canRun, canEdit } = await orNotFound(getLoop({ db: instance.database.db }, actor, { loopId }));

  return (
    <>
      <PageHeader
        eyebrow={
          <>
            <Link href="/loops" className="hover:underline">
              Loops
            </Link>{" "}
            / {loop.realm}
          </>
        }
        title={<span className="font-mono">{loop.id}</span>}
        description={loop.description || undefined}
        actions={
          <>
            <TypeBadge type={loop.type} />
            <Badge>r{loop.revision}</Badge>
            {loop.activePromptVersion !== null ? <Badge>prompt v{loop.activePromptVersion}</Badge> : null}
            <Link href={`/runs?loop=${encodeURIComponent(loop.id)}`} className={buttonClass.secondary}>
              Runs of this loop
            </Link>
            {canEdit ? (
              <Link href={`/loops/new?from=${encodeURIComponent(loop.id)}`} className={buttonClass.secondary}>
                Edit definition
              </Link>
            ) : null}
          </>
        }
      />
      <div className="grid gap-6 lg:grid-cols-[minmax(0,1fr)_22rem]">
        <div className="min-w-0 space-y-6">
          <section aria-labelledby="run-heading" className={`${cardClass} p-5`}>
            <h2 id="run-heading" className="mb-3 text-base font-semibold">
              Run this loop
            </h2>
            <RunForm loopId={loop.id} realm={loop.realm} sampleInput={sampleInput} inputSchema={loop.definition.inputSchema} canRun={canRun} action={startRunAction} />
          </section>
          <section aria-labelledby="definition-heading" className={`${cardClass} p-5`}>
            <h2 id="definition-heading" className="mb-3 text-base font-semibold">
              Definition <span className="font-normal text-zinc-500">(revision {loop.revision})</span>
            </h2>
            <JsonBlock label="Loop definition" value={loop.definition} maxHeight="32rem" />
          </section>
        </div>
        <aside className="space-y-6">
          {loop.type === "llm" ? (
            <section aria-labelledby="prompt-heading" className={`${cardClass} p-5`}>
              <div className="mb-3 flex items-baseline justify-between gap-3">
                <h2 id="prompt-heading" className="text-base font-semibold">
                  Active prompt
                </h2>
                <Link href={`/loops/${encodeURIComponent(loop.id)}/prompts`} className={linkClass}>
                  Prompt versions
                </Link>
              </div>
              {activePrompt ? (
                <div className="space-y-3 text-sm">
                  <p>
                    <Badge>v{activePrompt.version}</Badge> by <span className="font-medium">{activePrompt.author}</span>
                    <span className="block text-xs text-zinc-500">{formatTime(activePrompt.createdAt)}</span>
                  </p>
                  {activePrompt.message ? <p className="text-zinc-600 dark:text-zinc-400">{activePrompt.message}</p> : null}
                  <div>
                    <h3 className="mb-1 text-xs font-medium text-zinc-500">System prompt</h3>
                    <p className="max-h-64 overflow-auto whitespace-pre-wrap rounded-md bg-zinc-50 p-3 text-xs leading-relaxed dark:bg-zinc-950">
                      {activePrompt.systemPrompt || <span className="text-zinc-400">(empty)</span>}
                    </p>
                  </div>
                  {activePrompt.params.model ? (
                    <p className="text-xs text-zinc-500">
                      Model <span className="font-mono">{activePrompt.params.model}</span>
                      {activePrompt.params.maxTokens ? `, up to ${activePrompt.params.maxTokens} tokens` : ""}
                    </p>
                  ) : null}
                </div>
              ) : (
                <p className="text-sm text-zinc-500">No prompt version is active.</p>
              )}
            </section>
          ) : null}
          <section aria-labelledby="revisions-heading" className={`${cardClass} p-5`}>
            <div className="mb-3 flex items-baseline justify-between gap-3">
              <h2 id="revisions-heading" className="text-base font-semibold">
                Revisions
              </h2>
              {revisions.length > 1 ? (
                <Link href={`/loops/${encodeURIComponent(loop.id)}/revisions/diff`} className={linkClass}>
                  Compare revisions
                </Link>
              ) : null}
            </div>
            <ol aria-label="Revisions" className="space-y-2 text-sm">
              {revisions.map((revision) => (
                <li key={revision.revision} className="flex items-baseline justify-between gap-3">
                  <span>
                    <span className="font-medium">r{revision.revision}</span>
                    {revision.revision === loop.revision ? <span className="ml-2 text-xs text-emerald-700 dark:text-emerald-400">current</span> : null}
                    <span className="block text-xs text-zinc-500">by {revision.createdBy}</span>
                  </span>
                  <span className="shrink-0 text-xs text-zinc-500">{formatTime(revision.createdAt)}</span>
                </li>
              ))}
            </ol>
          </section>
          <p className="text-xs text-zinc-500">
            Realm <span className="font-medium">{loop.realm}</span>. Created {formatTime(loop.createdAt)}.{" "}
            <Link href={`/loops?realm=${encodeURIComponent(loop.realm)}`} className={linkClass}>
              Other loops in this realm
            </Link>
          </p>
        </aside>
      </div>
    </>
  );
}
