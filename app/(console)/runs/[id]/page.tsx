import type { Metadata } from "next";
import { RunView } from "@/components/runs/run-view";
import { requireActor } from "@/lib/server/actor";
import { getInstance } from "@/lib/server/instance";
import { orNotFound, param } from "@/lib/server/page";
import { can } from "@/lib/services/actor";
import { getRun } from "@/lib/services/get-run";
import { scoreFrameAction } from "../../loops/[id]/prompts/actions";
import { cancelRunAction } from "./actions";

export const metadata: Metadata = { title: "Run" };

export default async function RunPage({
  params,
  searchParams,
}: {
  params: Promise<{ id: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const [{ id }, query] = await Promise.all([params, searchParams]);
  const instance = await getInstance();
  const detail = await orNotFound(
    getRun(
      { db: instance.database.db },
      actor,
      { runId: id },
      { recordView: true },
    ),
  );
  return (
    <RunView
      key={detail.run.id}
      initialJson={JSON.stringify(detail)}
      initialFrameId={param(query.frame) ?? null}
      canExport={can(actor, "export", detail.run.realm)}
      {...(can(actor, "run", detail.run.realm)
        ? { scoreAction: scoreFrameAction, cancelAction: cancelRunAction }
        : {})}
    />
  );
}
