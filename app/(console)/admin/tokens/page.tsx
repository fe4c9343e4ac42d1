import type { Metadata } from "next";
import { CreateTokenForm, RevokeTokenButton } from "@/components/admin/token-forms";
import { Badge } from "@/components/ui/badge";
import { EmptyState } from "@/components/ui/empty-state";
import { formatTime } from "@/components/ui/format";
import { PageHeader } from "@/components/ui/page-header";
import { cardClass, linkClass } from "@/components/ui/styles";
import { requireActor } from "@/lib/server/actor";
import { getInstance } from "@/lib/server/instance";
import { ROLES } from "@/lib/runtime/types";
import { realmsFor } from "@/lib/services/actor";
import { listServiceTokens, type ServiceTokenView } from "@/lib/services/service-tokens";
import { createTokenAction, revokeTokenAction } from "./actions";

export const metadata: Metadata = { title: "Service tokens" };

function stateLabel(token: ServiceTokenView): string {
  if (token.status === "revoked") return `revoked ${formatTime(token.revokedAt)}`;
  if (token.status === "expired") return `expired ${formatTime(token.expiresAt)}`;
  return token.expiresAt ? `expires ${formatTime(token.expiresAt)}` : "no expiry";
}

export default async function TokensPage() {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const realms = realmsFor(actor, "admin");
  if (realms.length === 0) {
    return (
      <>
        <PageHeader eyebrow="Admin" title="Service tokens" />
        <EmptyState title="You administer no realm">Service tokens are created by admins of a realm.</EmptyState>
      </>
    );
  }
  const instance = await getInstance();
  const tokens = await listServiceTokens({ db: instance.database.db }, actor);

  return (
    <>
      <PageHeader
        eyebrow="Admin"
        title="Service tokens"
        description="A token lets a service call the REST API with one role in one realm. It is shown once; LoopStacks keeps only its SHA-256."
        actions={
          <a href="/api/v1/openapi.json" className={linkClass}>
            OpenAPI document
          </a>
        }
      />
      <div className="space-y-6">
        <section className={`${cardClass} p-5`}>
          <h2 className="mb-3 text-sm font-semibold">Create a token</h2>
          <CreateTokenForm realms={realms} roles={ROLES} action={createTokenAction} />
        </section>
        <section className={cardClass} aria-label="Tokens">
          {tokens.length === 0 ? (
            <p className="px-5 py-4 text-sm text-zinc-500">No tokens yet.</p>
          ) : (
            <table className="w-full text-sm">
              <thead className="text-left text-xs text-zinc-500">
                <tr>
                  <th className="px-5 py-2 font-medium">Service</th>
                  <th className="px-3 py-2 font-medium">Realm · role</th>
                  <th className="px-3 py-2 font-medium">Token</th>
                  <th className="px-3 py-2 font-medium">Created</th>
                  <th className="px-3 py-2 font-medium">Last used</th>
                  <th className="px-3 py-2 font-medium">State</th>
                  <th className="px-5 py-2" />
                </tr>
              </thead>
              <tbody>
                {tokens.map((token) => {
                  const isLive = token.status === "live";
                  return (
                    <tr key={token.id} className={`border-t border-zinc-100 dark:border-zinc-800 ${isLive ? "" : "text-zinc-400"}`}>
                      <td className="px-5 py-2 font-medium">{token.name}</td>
                      <td className="px-3 py-2">
                        <span className="font-mono">{token.realm}</span> <Badge>{token.role}</Badge>
                      </td>
                      <td className="px-3 py-2 font-mono text-xs">{token.prefix}…</td>
                      <td className="px-3 py-2 text-xs">
                        {formatTime(token.createdAt)} by {token.createdBy}
                      </td>
                      <td className="px-3 py-2 text-xs">{token.lastUsedAt ? formatTime(token.lastUsedAt) : "never"}</td>
                      <td className="px-3 py-2 text-xs">{stateLabel(token)}</td>
                      <td className="px-5 py-2 text-right">{isLive ? <RevokeTokenButton id={token.id} name={token.name} action={revokeTokenAction} /> : null}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </>
  );
}
