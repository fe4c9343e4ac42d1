import Link from "next/link";
import type { ReactNode } from "react";
import { FRAME_STATUSES } from "@/lib/runtime/types";
import { buttonClass, inputClass, labelClass } from "../ui/styles";

export interface RunFilterValues {
  loop?: string;
  status?: string;
  realm?: string;
  caller?: string;
  from?: string;
  to?: string;
}

/** A plain GET form: filters live in the URL; submitting starts again at the newest page. */
export function RunFilters({ realms, values }: { realms: string[]; values: RunFilterValues }) {
  const isFiltered = Object.values(values).some(Boolean);
  return (
    <form role="search" aria-label="Filter runs" action="/runs" className="mb-4 grid grid-cols-2 items-end gap-3 sm:grid-cols-3 lg:grid-cols-[repeat(6,minmax(0,1fr))_auto]">
      <Field id="run-loop" label="Loop">
        <input id="run-loop" name="loop" defaultValue={values.loop} placeholder="loop id" className={inputClass} />
      </Field>
      <Field id="run-status" label="Status">
        <select id="run-status" name="status" defaultValue={values.status ?? ""} className={inputClass}>
          <option value="">Any status</option>
          {FRAME_STATUSES.map((status) => (
            <option key={status} value={status}>
              {status}
            </option>
          ))}
        </select>
      </Field>
      <Field id="run-realm" label="Realm">
        <select id="run-realm" name="realm" defaultValue={values.realm ?? ""} className={inputClass}>
          <option value="">All realms</option>
          {realms.map((realm) => (
            <option key={realm} value={realm}>
              {realm}
            </option>
          ))}
        </select>
      </Field>
      <Field id="run-caller" label="Caller">
        <input id="run-caller" name="caller" defaultValue={values.caller} placeholder="username" className={inputClass} />
      </Field>
      <Field id="run-from" label="From (UTC)">
        <input id="run-from" name="from" type="datetime-local" defaultValue={values.from} className={inputClass} />
      </Field>
      <Field id="run-to" label="To (UTC)">
        <input id="run-to" name="to" type="datetime-local" defaultValue={values.to} className={inputClass} />
      </Field>
      <div className="flex gap-2">
        <button type="submit" className={buttonClass.secondary}>
          Filter
        </button>
        {isFiltered ? (
          <Link href="/runs" className={buttonClass.ghost}>
            Clear
          </Link>
        ) : null}
      </div>
    </form>
  );
}

function Field({ id, label, children }: { id: string; label: string; children: ReactNode }) {
  return (
    <div className="min-w-0">
      <label htmlFor={id} className={`${labelClass} mb-1`}>
        {label}
      </label>
      {children}
    </div>
  );
}
