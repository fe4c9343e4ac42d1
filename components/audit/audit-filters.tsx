import Link from "next/link";
import { buttonClass, inputClass, labelClass } from "../ui/styles";

export interface AuditFilterValues {
  action?: string;
  actor?: string;
  realm?: string;
  from?: string;
  to?: string;
}

/** A plain GET form: filters live in the URL, so an investigation can be shared and bookmarked. */
export function AuditFilters({ realms, actions, values }: { realms: string[]; actions: string[]; values: AuditFilterValues }) {
  const prefixes = [...new Set(actions.map((a) => `${a.split(".")[0]}.`))].filter((p) => !actions.includes(p));
  const isFiltered = Object.values(values).some(Boolean);
  return (
    <form role="search" aria-label="Filter the audit log" className="mb-4 flex flex-wrap items-end gap-3" action="/audit">
      <div>
        <label htmlFor="audit-action" className={labelClass}>
          Action
        </label>
        <select id="audit-action" name="action" defaultValue={values.action ?? ""} className={`${inputClass} mt-1 min-w-44`}>
          <option value="">All actions</option>
          {prefixes.map((prefix) => (
            <option key={prefix} value={prefix}>
              {prefix}*
            </option>
          ))}
          {actions.map((action) => (
            <option key={action} value={action}>
              {action}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="audit-actor" className={labelClass}>
          Actor
        </label>
        <input id="audit-actor" name="actor" defaultValue={values.actor} placeholder="alice, token:…, cli:root" className={`${inputClass} mt-1 w-48`} />
      </div>
      <div>
        <label htmlFor="audit-realm" className={labelClass}>
          Realm
        </label>
        <select id="audit-realm" name="realm" defaultValue={values.realm ?? ""} className={`${inputClass} mt-1 min-w-36`}>
          <option value="">All, with instance events</option>
          {realms.map((realm) => (
            <option key={realm} value={realm}>
              {realm}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="audit-from" className={labelClass}>
          From (UTC)
        </label>
        <input id="audit-from" name="from" type="datetime-local" defaultValue={values.from} className={`${inputClass} mt-1`} />
      </div>
      <div>
        <label htmlFor="audit-to" className={labelClass}>
          To (UTC)
        </label>
        <input id="audit-to" name="to" type="datetime-local" defaultValue={values.to} className={`${inputClass} mt-1`} />
      </div>
      <button type="submit" className={buttonClass.secondary}>
        Filter
      </button>
      {isFiltered ? (
        <Link href="/audit" className={buttonClass.ghost}>
          Clear filters
        </Link>
      ) : null}
    </form>
  );
}
