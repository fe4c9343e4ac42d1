import type { MessagePort } from "node:worker_threads";

export function serializeError(error: unknown): Record<string, unknown> & { message: string };
export function answerCalls(port: MessagePort, operations: Record<string, (args: Record<string, unknown>) => unknown>): void;
/** The bytes' own memory, for a message's transfer list: handed over instead of copied when nothing else shares it. */
export function transferList(bytes: Uint8Array): ArrayBuffer[];
