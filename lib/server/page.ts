import { notFound } from "next/navigation";
import { isAppError } from "../errors";

/** Renders the not-found page for a `not_found` service error; other errors reach the error boundary. */
export async function orNotFound<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (isAppError(error, "not_found")) notFound();
    throw error;
  }
}

/** The first value of a search parameter, trimmed; arrays come from repeated keys in a URL. */
export function param(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  const trimmed = first?.trim();
  return trimmed ? trimmed : undefined;
}

/** A number from the URL, if it is one of the allowed ones (a version, a revision). */
export function pickNumber(value: string | undefined, allowed: readonly number[]): number | undefined {
  const n = Number(value);
  return allowed.includes(n) ? n : undefined;
}
