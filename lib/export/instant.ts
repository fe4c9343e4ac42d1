import { z } from "zod";

/**
 * The one reading of an export's `from` and `to`, for the CLI, the REST API and the console:
 * an ISO 8601 date and time with its zone (`2026-12-01T00:00:00Z`, `2026-12-01T01:00+01:00`),
 * on a day the calendar has, between 1970 and 9999. `new Date(text)` reads far more (`2026`,
 * `Dec 31 2026`, a time in the server's own zone) and rolls `2026-02-30` over to March 2; a
 * year past 9999 reaches the database and fails there.
 */

/** The earliest instant an export range may name. */
export const EARLIEST_INSTANT = new Date("1970-01-01T00:00:00.000Z");
/** The latest: the end of year 9999, well inside PostgreSQL's `timestamptz` and a four-digit year. */
export const LATEST_INSTANT = new Date("9999-12-31T23:59:59.999Z");

export const INSTANT_EXAMPLE = "2026-12-01T00:00:00Z";
export const INSTANT_MESSAGE = `must be a date and time with its zone, such as ${INSTANT_EXAMPLE}`;
const RANGE_MESSAGE = "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z";

const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

export type InstantResult = { ok: true; date: Date } | { ok: false; message: string };

function daysInMonth(year: number, month: number): number {
  const isLeap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 ? (isLeap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Checks a date already made (by a caller of the use case) against the same range. */
export function checkInstant(date: Date): InstantResult {
  const time = date.getTime();
  if (Number.isNaN(time)) return { ok: false, message: INSTANT_MESSAGE };
  if (time < EARLIEST_INSTANT.getTime() || time > LATEST_INSTANT.getTime()) return { ok: false, message: RANGE_MESSAGE };
  return { ok: true, date };
}

export function parseInstant(text: string): InstantResult {
  const match = ISO_INSTANT.exec(text);
  if (!match) return { ok: false, message: INSTANT_MESSAGE };
  const [year, month, day, hour, minute, second = 0] = match.slice(1, 7).map((part) => (part === undefined ? undefined : Number(part))) as number[];
  const fraction = match[7] ?? "";
  const [sign, offsetHours, offsetMinutes] = [match[9], Number(match[10] ?? 0), Number(match[11] ?? 0)];
  if (month! < 1 || month! > 12 || day! < 1 || day! > daysInMonth(year!, month!)) {
    return { ok: false, message: `${text.slice(0, 10)} is not a day in the calendar` };
  }
  if (hour! > 23 || minute! > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) {
    return { ok: false, message: `${INSTANT_MESSAGE} (hours 00–23, minutes and seconds 00–59)` };
  }
  const offsetMs = (sign === "-" ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  const millis = Number(fraction.padEnd(3, "0").slice(0, 3));
  // Date.UTC reads years 0–99 as 1900–1999; setUTCFullYear does not.
  const utc = new Date(Date.UTC(2000, 0, 1, hour!, minute!, second, millis));
  utc.setUTCFullYear(year!, month! - 1, day!);
  return checkInstant(new Date(utc.getTime() - offsetMs));
}

/** `from` and `to` in a request: ISO 8601 text as above, or a `Date` a caller already made. */
export const instantSchema = z.union([z.date(), z.string()], { error: INSTANT_MESSAGE }).transform((value, ctx) => {
  const result = value instanceof Date ? checkInstant(value) : parseInstant(value);
  if (result.ok) return result.date;
  ctx.addIssue({ code: "custom", message: result.message, input: value });
  return z.NEVER;
});
