import type { Metadata } from "next";
import Link from "next/link";
import { stringify as toYaml } from "yaml";
import { LoopDefinitionEditor } from "@/components/loops/loop-definition-editor";
import { EmptyState } from "@/components/ui/empty-state";
import { PageHeader } from "@/components/ui/page-header";
import { cardClass, linkClass } from "@/components/ui/styles";
import { requireActor } from "@/lib/server/actor";
import { getInstance } from "@/lib/server/instance";
import { orNotFound, param } from "@/lib/server/page";
import { realmsFor } from "@/lib/services/actor";
import { getLoop } from "@/lib/services/get-loop";
import { listLoops } from "@/lib/services/list-loops";
import { registerLoopAction } from "./actions";

export const metadata: Metadata = { title: "Register loop" };

function template(realm: string) {
  return {
    id: "my-summariser",
    type: "llm",
    realm,
    description: "Summarises a document in three sentences.",
    inputSchema: { type: "object", properties: { document: { type: "string" } }, required: ["document"] },
    llm: {
      model: "claude-sonnet-4-5",
      systemPrompt: "Summarise the document in three sentences.",
      maxTokens: 1024,
      tools: [],
    },
  };
}

export default async function RegisterLoopPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const from = param((await searchParams).from);
  const editable = realmsFor(actor, "edit");
  if (editable.length === 0) {
    return (
      <EmptyState title="You cannot register loops" action={<Link href="/loops" className={linkClass}>Back to loops</Link>}>
        Registering loops needs the maintainer or admin role in a realm.
      </EmptyState>
    );
  }
  const instance = await getInstance();
  const deps = { db: instance.database.db };
  const [existing, visible] = await Promise.all([from ? orNotFound(getLoop(deps, actor, { loopId: from })) : null, listLoops(deps, actor, {})]);
  const initialDefinition = existing ? existing.loop.definition : template(editable[0]!);
  const loopOptions = visible.loops.map(({ id, realm }) => ({ id, realm }));

  return (
    <>
      <PageHeader
        eyebrow={
          <Link href="/loops" className="hover:underline">
            Loops
          </Link>
        }
        title={existing ? <>Edit <span className="font-mono">{existing.loop.id}</span></> : "Register loop"}
        description={
          existing
            ? `Saving a changed definition makes revision ${existing.loop.revision + 1}; a changed system prompt also makes a new prompt version and activates it.`
            : `An LLM, MCP or HTTP loop. Tools with a loopRef call another loop as a child frame. You can register in: ${editable.join(", ")}.`
        }
      />
      <div className="grid gap-6 lg:grid-cols-[minmax(0,1fr)_20rem]">
        <section className={`${cardClass} p-5`}>
          <LoopDefinitionEditor
            action={registerLoopAction}
            initialText={toYaml(initialDefinition)}
            initialDefinition={initialDefinition}
            base={existing?.loop.definition}
            realms={editable}
            loops={loopOptions}
            submitLabel={existing ? "Save revision" : "Register loop"}
          />
        </section>
        <aside className={`${cardClass} space-y-3 p-5 text-sm text-zinc-600 dark:text-zinc-400`}>
          <h2 className="font-semibold text-zinc-900 dark:text-zinc-100">Shape</h2>
          <p>
            <code className="font-mono">id</code>, <code className="font-mono">realm</code>, <code className="font-mono">type</code> and a block named after the type:
          </p>
          <ul className="list-disc space-y-1 pl-5">
            <li>
              <code className="font-mono">llm</code>: model, systemPrompt, maxTokens, maxTurns, tools (<code className="font-mono">{"{ name, loopRef }"}</code>)
            </li>
            <li>
              <code className="font-mono">mcp</code>: server (an HTTP url; a stdio command is registered on the server with{" "}
              <code className="font-mono">loopstacks apply</code>) and tool
            </li>
            <li>
              <code className="font-mono">http</code>: method, url with <code className="font-mono">{"{{input.x}}"}</code>, headers, body
            </li>
          </ul>
          <p>Optional: description, inputSchema, outputSchema, retry, limits. Every problem is reported with its path.</p>
        </aside>
      </div>
    </>
  );
}
