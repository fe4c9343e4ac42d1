import type { Attempt, Clock, HttpClient, McpClientFactory, SecretResolver } from "./types";

/** What every dispatcher receives for one frame. */
export interface DispatchContext {
  frameId: string;
  runId: string;
  /** The realm of the frame's loop: the secrets it may use are those available to this realm. */
  realm: string;
  /** Aborted on cancellation or when the frame's deadline passes (the reason says which). */
  signal: AbortSignal;
  clock: Clock;
  http: HttpClient;
  secrets: SecretResolver;
  mcp: McpClientFactory;
  recordAttempt(attempt: Attempt): void;
}

export interface DispatchOutcome {
  output: unknown;
}
