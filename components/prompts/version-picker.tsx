import { buttonClass, inputClass, labelClass } from "../ui/styles";

/** Picks two versions with a plain GET form, so the chosen pair lives in the URL and can be shared. */
export function VersionPicker({
  versions,
  first,
  second,
  names,
  submitLabel,
}: {
  versions: number[];
  first: number;
  second: number;
  names: [string, string];
  submitLabel: string;
}) {
  return (
    <form method="get" className="mb-6 flex flex-wrap items-end gap-3" aria-label="Choose versions">
      {([first, second] as const).map((selected, index) => (
        <div key={names[index]}>
          <label htmlFor={`pick-${names[index]}`} className={labelClass}>
            {index === 0 ? "From" : "To"}
          </label>
          <select id={`pick-${names[index]}`} name={names[index]} defaultValue={selected} className={`${inputClass} mt-1 w-32`}>
            {versions.map((version) => (
              <option key={version} value={version}>
                v{version}
              </option>
            ))}
          </select>
        </div>
      ))}
      <button type="submit" className={buttonClass.secondary}>
        {submitLabel}
      </button>
    </form>
  );
}
