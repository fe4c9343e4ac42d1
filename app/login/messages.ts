import { DIRECTORY_UNAVAILABLE_MESSAGE, LOGIN_REFUSED_MESSAGE } from "@/lib/services/authenticate";

/**
 * What the form says for a refused sign-in, by the reason Auth.js carries. A wrong password, an
 * unknown user and a throttled attempt read the same, so the form tells an attacker neither
 * which names exist nor when a name is blocked; the audit log keeps the reason.
 */
export function loginErrorMessage(code: string | undefined): string {
  return code === "directory_unavailable" ? DIRECTORY_UNAVAILABLE_MESSAGE : LOGIN_REFUSED_MESSAGE;
}
