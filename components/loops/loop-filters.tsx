import Link from "next/link";
import { LOOP_TYPES } from "@/lib/services/list-loops";
import { buttonClass, inputClass, labelClass } from "../ui/styles";

/** A plain GET form: filters live in the URL, so a filtered list can be shared and bookmarked. */
export function LoopFilters({ realms, values }: { realms: string[]; values: { search?: string; realm?: string; type?: string } }) {
  const isFiltered = Boolean(values.search || values.realm || values.type);
  return (
    <form role="search" aria-label="Filter loops" className="mb-4 flex flex-wrap items-end gap-3" action="/loops">
      <div className="min-w-56 flex-1">
        <label htmlFor="loop-search" className={labelClass}>
          Search
        </label>
        <input id="loop-search" name="q" type="search" defaultValue={values.search} placeholder="Loop id or description" className={`${inputClass} mt-1`} />
      </div>
      <div>
        <label htmlFor="loop-realm" className={labelClass}>
          Realm
        </label>
        <select id="loop-realm" name="realm" defaultValue={values.realm ?? ""} className={`${inputClass} mt-1 min-w-36`}>
          <option value="">All realms</option>
          {realms.map((realm) => (
            <option key={realm} value={realm}>
              {realm}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="loop-type" className={labelClass}>
          Type
        </label>
        <select id="loop-type" name="type" defaultValue={values.type ?? ""} className={`${inputClass} mt-1 min-w-28`}>
          <option value="">All types</option>
          {LOOP_TYPES.map((type) => (
            <option key={type} value={type}>
              {type}
            </option>
          ))}
        </select>
      </div>
      <button type="submit" className={buttonClass.secondary}>
        Filter
      </button>
      {isFiltered ? (
        <Link href="/loops" className={buttonClass.ghost}>
          Clear filters
        </Link>
      ) : null}
    </form>
  );
}
