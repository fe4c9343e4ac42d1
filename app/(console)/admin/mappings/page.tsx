import type { Metadata } from "next";
import { AddMappingForm, RemoveMappingButton } from "@/components/admin/mapping-forms";
import { Badge } from "@/components/ui/badge";
import { EmptyState } from "@/components/ui/empty-state";
import { formatTime } from "@/components/ui/format";
import { PageHeader } from "@/components/ui/page-header";
import { cardClass } from "@/components/ui/styles";
import { requireActor } from "@/lib/server/actor";
import { getInstance } from "@/lib/server/instance";
import { ROLES } from "@/lib/runtime/types";
import { listMappings } from "@/lib/services/manage-mappings";
import { addMappingAction, removeMappingAction } from "./actions";

export const metadata: Metadata = { title: "Group mappings" };

export default async function MappingsPage() {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const instance = await getInstance();
  const realms = await listMappings({ db: instance.database.db }, actor);

  return (
    <>
      <PageHeader
        eyebrow="Admin"
        title="Group mappings"
        description="A directory group holds a role in a realm. Group DNs are compared in lower case, without spaces around separators. Changes apply to the next request."
      />
      {realms.length === 0 ? (
        <EmptyState title="You administer no realm">
          Mapping groups needs the admin role in a realm. The first admin of an install is made on the server with{" "}
          <code className="font-mono">loopstacks realm map --realm &lt;id&gt; --group &lt;dn&gt; --role admin</code>.
        </EmptyState>
      ) : (
        <div className="space-y-6">
          <section className={`${cardClass} p-5`}>
            <h2 className="mb-3 text-sm font-semibold">Add a mapping</h2>
            <AddMappingForm realms={realms.map((r) => r.id)} roles={ROLES} action={addMappingAction} />
          </section>
          {realms.map((realm) => (
            <section key={realm.id} className={cardClass} aria-labelledby={`realm-${realm.id}`}>
              <header className="border-b border-zinc-200 px-5 py-3 dark:border-zinc-800">
                <h2 id={`realm-${realm.id}`} className="font-semibold">
                  <span className="font-mono">{realm.id}</span>
                  {realm.name !== realm.id ? <span className="ml-2 font-normal text-zinc-500">{realm.name}</span> : null}
                </h2>
                {realm.description ? <p className="text-sm text-zinc-600 dark:text-zinc-400">{realm.description}</p> : null}
              </header>
              {realm.mappings.length === 0 ? (
                <p className="px-5 py-4 text-sm text-zinc-500">No groups are mapped to this realm.</p>
              ) : (
                <table className="w-full text-sm">
                  <thead className="text-left text-xs text-zinc-500">
                    <tr>
                      <th className="px-5 py-2 font-medium">Group</th>
                      <th className="px-3 py-2 font-medium">Role</th>
                      <th className="px-3 py-2 font-medium">Added</th>
                      <th className="px-5 py-2" />
                    </tr>
                  </thead>
                  <tbody>
                    {realm.mappings.map((m) => (
                      <tr key={`${m.groupDn}#${m.role}`} className="border-t border-zinc-100 dark:border-zinc-800">
                        <td className="break-all px-5 py-2 font-mono text-xs">{m.groupDn}</td>
                        <td className="px-3 py-2">
                          <Badge>{m.role}</Badge>
                        </td>
                        <td className="px-3 py-2 text-xs text-zinc-500">
                          {formatTime(m.createdAt)} by {m.createdBy}
                        </td>
                        <td className="px-5 py-2 text-right">
                          <RemoveMappingButton realm={realm.id} groupDn={m.groupDn} role={m.role} action={removeMappingAction} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          ))}
        </div>
      )}
    </>
  );
}
