import type { Metadata } from "next";
import { EmptyState } from "@/components/ui/empty-state";
import { PageHeader } from "@/components/ui/page-header";
import { buttonClass, cardClass, inputClass, labelClass } from "@/components/ui/styles";
import { STANDARD_TOOL_COMMANDS, WELL_KNOWN_KEYS_PATH } from "@/lib/export/verify-doc";
import { requireActor } from "@/lib/server/actor";
import { realmsFor } from "@/lib/services/actor";

export const metadata: Metadata = { title: "Compliance export" };

/** Midnight UTC, as a `datetime-local` value. */
function utcMidnight(daysAgo: number): string {
  const d = new Date();
  d.setUTCHours(0, 0, 0, 0);
  d.setUTCDate(d.getUTCDate() - daysAgo);
  return d.toISOString().slice(0, 16);
}

export default async function ExportsPage() {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const realms = realmsFor(actor, "export");
  return (
    <>
      <PageHeader
        title="Compliance export"
        description="A signed, verifiable bundle of a realm's runs: every frame with its identity and authorization decision, the exact prompt versions used, the audit chain, and a report."
      />
      {realms.length === 0 ? (
        <EmptyState title="Exports are for auditors and admins">Ask an admin to map one of your groups to the auditor or admin role of a realm.</EmptyState>
      ) : (
        <div className="grid gap-6 lg:grid-cols-[minmax(0,1fr)_minmax(0,1fr)]">
          {/* A plain GET form: the archive streams straight into a download. */}
          <form method="get" action="/api/exports" className={`${cardClass} space-y-4 p-5`}>
            <h2 className="text-base font-semibold">Realm and time range</h2>
            <div>
              <label htmlFor="realm" className={labelClass}>
                Realm
              </label>
              <select id="realm" name="realm" className={inputClass} defaultValue={realms[0]}>
                {realms.map((realm) => (
                  <option key={realm} value={realm}>
                    {realm}
                  </option>
                ))}
              </select>
            </div>
            <div className="grid grid-cols-2 gap-3">
              <div>
                <label htmlFor="from" className={labelClass}>
                  From (UTC, included)
                </label>
                <input id="from" name="from" type="datetime-local" required defaultValue={utcMidnight(7)} className={inputClass} />
              </div>
              <div>
                <label htmlFor="to" className={labelClass}>
                  To (UTC, excluded)
                </label>
                <input id="to" name="to" type="datetime-local" required defaultValue={utcMidnight(-1)} className={inputClass} />
              </div>
            </div>
            <button type="submit" className={buttonClass.primary}>
              Export compliance bundle
            </button>
          </form>
          <section className={`${cardClass} space-y-3 p-5 text-sm`}>
            <h2 className="text-base font-semibold">Verifying a bundle</h2>
            <p>Each archive verifies itself offline, with no LoopStacks installed:</p>
            <pre className="overflow-auto rounded-md bg-zinc-50 p-3 text-xs dark:bg-zinc-950">{["tar xzf loopstacks-bundle-*.tar.gz && cd loopstacks-bundle-*/", "node verify.mjs", ...STANDARD_TOOL_COMMANDS].join("\n")}</pre>
            <p>
              Only <code>manifest.json</code> is signed: check the other files against it, not against <code>SHA256SUMS</code>, which anyone who
              changes a file can rewrite. The last line prints the key&apos;s id, which must be the manifest&apos;s <code>signingKeyId</code>. A <code>verify.mjs</code> from inside a bundle is only as trustworthy as the bundle;{" "}
              <code>loopstacks verify</code> runs your installation&apos;s own.
            </p>
            <p>
              Every key that has signed bundles, current and retired, is published at{" "}
              <a href={WELL_KNOWN_KEYS_PATH} className="font-mono underline">
                {WELL_KNOWN_KEYS_PATH}
              </a>
              . A single run exports from its page.
            </p>
          </section>
        </div>
      )}
    </>
  );
}
