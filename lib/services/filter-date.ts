import { z } from "zod";
import { EARLIEST_INSTANT, LATEST_INSTANT } from "../export/instant";

/**
 * A date filter from a URL (`from`, `to`): a date or text `Date` can read; anything else means
 * "no filter", as every list filter does. A date outside 1970–9999 is brought to that edge: no
 * record lies beyond it, so the filter keeps its meaning, and the database is never sent a year
 * it cannot read (`+010000-01-01`).
 */
export const filterDateSchema = z
  .union([z.date(), z.string().trim().min(1)])
  .optional()
  .transform((value) => (value === undefined ? undefined : new Date(value)))
  .refine((date) => date === undefined || !Number.isNaN(date.getTime()))
  .transform((date) => {
    if (date === undefined) return undefined;
    const time = Math.min(Math.max(date.getTime(), EARLIEST_INSTANT.getTime()), LATEST_INSTANT.getTime());
    return time === date.getTime() ? date : new Date(time);
  })
  .catch(undefined);
