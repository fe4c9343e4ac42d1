import type { Metadata } from "next";
import { PromptEditor } from "@/components/prompts/prompt-editor";
import { PromptsHeader } from "@/components/prompts/prompt-nav";
import { cardClass } from "@/components/ui/styles";
import { requireActor } from "@/lib/server/actor";
import { getInstance } from "@/lib/server/instance";
import { orNotFound, param } from "@/lib/server/page";
import { listPromptVersions } from "@/lib/services/prompts/list-prompt-versions";
import { createVersionAction } from "./actions";

type Props = { params: Promise<{ id: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `New prompt version · ${(await params).id}` };
}

export default async function NewPromptVersionPage({ params, searchParams }: Props) {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const { id: loopId } = await params;
  const from = Number(param((await searchParams).from));
  const { database } = await getInstance();
  const { loop, versions, canEdit } = await orNotFound(listPromptVersions({ db: database.db }, actor, { loopId }));
  const base = versions.find((v) => v.version === from) ?? versions.find((v) => v.isActive) ?? versions[0] ?? null;

  return (
    <>
      <PromptsHeader loopId={loop.id} realm={loop.realm} current="new" title="New prompt version" canEdit={canEdit} />
      {canEdit ? (
        <section className={`${cardClass} p-5`}>
          <PromptEditor
            loopId={loop.id}
            baseVersion={base?.version ?? null}
            initial={{
              systemPrompt: base?.systemPrompt ?? "",
              model: base?.params.model ?? "",
              maxTokens: base?.params.maxTokens ?? 1024,
              temperature: base?.params.temperature ?? null,
            }}
            action={createVersionAction}
          />
        </section>
      ) : (
        <p className="text-sm text-zinc-600 dark:text-zinc-400">Writing prompt versions in realm {loop.realm} needs the maintainer or admin role.</p>
      )}
    </>
  );
}
