/** A header name is an HTTP token. */
export const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A header value, once its surrounding whitespace is gone, holds only visible Latin-1 characters, spaces and tabs. */
export const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** Headers the HTTP client manages itself, which a loop does not set. */
export const CLIENT_HEADERS: ReadonlySet<string> = new Set(["keep-alive", "transfer-encoding", "upgrade", "expect"]);

/** A header value as it is sent: without surrounding whitespace. */
export function trimHeaderValue(value: string): string {
  return value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
}
