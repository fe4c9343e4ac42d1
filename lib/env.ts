/** Environment variables as plain strings: `process.env`, or a literal map in tests. */
export type Env = Record<string, string | undefined>;
