import Anthropic, { APIConnectionError, APIConnectionTimeoutError, APIError } from "@anthropic-ai/sdk";
import { callSignal, DispatchError, isRetryableStatus, retryAfterMs } from "./retry";
import type { ModelCallOptions, ModelClient, ModelRequest } from "./types";

export interface AnthropicModelClientOptions {
  /** Without one, requests go out unauthenticated and the API answers 401. */
  apiKey?: string;
  /** The real API when absent; a scripted server's URL in tests and the demo. */
  baseURL?: string;
  defaultHeaders?: Record<string, string>;
}

/**
 * The Messages API through the official SDK. The SDK's own retries are off: the runtime
 * retries itself so that every attempt lands in the trace.
 */
export function createAnthropicModelClient(options: AnthropicModelClientOptions): ModelClient {
  const client = new ConfiguredAnthropic({
    apiKey: options.apiKey ?? null,
    authToken: null,
    baseURL: options.baseURL ?? "https://api.anthropic.com",
    defaultHeaders: { ...(options.apiKey ? {} : { authorization: null }), ...options.defaultHeaders },
    maxRetries: 0,
  });

  return {
    async createMessage(request: ModelRequest, { signal, timeoutMs, headers }: ModelCallOptions): Promise<unknown> {
      // The SDK's own timeout ends when the headers arrive: this one also covers the body.
      const call = callSignal(signal, timeoutMs, "The model did not answer in time");
      try {
        // ModelRequest is the wire body; the SDK's types only name more precisely what it already is.
        const params = request as Anthropic.MessageCreateParamsNonStreaming;
        // The SDK accepts only whole milliseconds; a deadline's remainder is rarely one.
        const timeout = Number.isFinite(timeoutMs) ? Math.max(1, Math.ceil(timeoutMs)) : undefined;
        return await client.messages.create(params, { signal: call.signal, headers, ...(timeout !== undefined ? { timeout } : {}) });
      } catch (error) {
        if (signal.aborted) throw abortReason(signal);
        if (call.isTimedOut()) throw new DispatchError("model_timeout", "The model did not answer in time", { retryable: true, cause: error });
        throw toModelCallError(error);
      } finally {
        call.dispose();
      }
    },
  };
}

/** Uses only the credentials passed in, never keys, tokens or profiles found on the machine. */
class ConfiguredAnthropic extends Anthropic {
  protected override _shouldResolveDefaultCredentials(): boolean {
    return false;
  }
}

function toModelCallError(error: unknown): unknown {
  // The timeout check comes first: a timeout is also a connection error.
  if (error instanceof APIConnectionTimeoutError) {
    return new DispatchError("model_timeout", "The model did not answer in time", { retryable: true, cause: error });
  }
  if (error instanceof APIConnectionError) {
    return new DispatchError("model_connection_error", `Could not reach the model server: ${connectionCause(error)}`, {
      retryable: true,
      cause: error,
    });
  }
  if (error instanceof APIError && typeof error.status === "number") {
    const status = error.status;
    const message = error.apiMessage ?? `The model server answered HTTP ${status}`;
    const headers = error.headers;
    const retryAfter = headers ? retryAfterMs((name) => headers.get(name)) : undefined;
    return new DispatchError(codeForStatus(status), message, {
      retryable: isRetryableStatus(status),
      status,
      details: { type: error.type, requestId: error.requestID ?? null },
      cause: error,
      ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
    });
  }
  if (isCutOff(error)) {
    return new DispatchError("model_connection_error", `The connection to the model server closed before its answer ended: ${connectionCause(error)}`, {
      retryable: true,
      cause: error,
    });
  }
  if (error instanceof SyntaxError) {
    return new DispatchError("model_response_invalid", `The model server sent a body that is not JSON: ${error.message}`, {
      cause: error,
    });
  }
  return error;
}

function codeForStatus(status: number): string {
  if (status === 429) return "rate_limited";
  if (status === 529) return "overloaded";
  if (status >= 500) return "model_server_error";
  if (status >= 400) return "model_bad_request";
  return `model_http_${status}`;
}

/** A body cut off by the network, as fetch reports it while the SDK reads the answer: "terminated", whatever the socket's error. */
function isCutOff(error: unknown): error is Error {
  return error instanceof TypeError && error.message === "terminated";
}

function connectionCause(error: Error): string {
  const cause = error.cause;
  const inner = cause instanceof Error && cause.cause instanceof Error ? cause.cause : cause;
  return inner instanceof Error ? inner.message : error.message;
}

/** The caller's own abort reason, so the runtime can tell a cancellation from a deadline. */
function abortReason(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason;
  return reason ?? new DOMException("The operation was aborted", "AbortError");
}
