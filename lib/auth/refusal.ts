/**
 * The code a refused sign-in carries out of Auth.js, which writes it into the redirect's `code`
 * query parameter, where anyone posting to the sign-in route directly can read it. A wrong
 * password, an unknown user and a throttled attempt all read `refused`, as the form's message
 * does (the audit log keeps the reason); only an unreachable directory, which is not the
 * person's doing, says so.
 */
export function refusalCode(reason: "invalid_credentials" | "throttled" | "directory_unavailable"): "refused" | "directory_unavailable" {
  return reason === "directory_unavailable" ? "directory_unavailable" : "refused";
}
