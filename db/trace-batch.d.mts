import type { TraceBatch } from "../lib/runtime/store";

export interface TraceBatchStatement {
  /** The SQL around the parameters: one more piece than there are parameters. */
  pieces: string[];
  /** One JSON text per table written. */
  params: string[];
  /** Whether a value had to be stored as U+FFFD (see `storableJson`). */
  replacedValues: boolean;
}

/** The one statement that writes a batch of frames, tool calls and turns; null for an empty batch. */
export function traceBatchStatement(batch: TraceBatch): TraceBatchStatement | null;
/** The statement's text with numbered placeholders ($1, $2, …). */
export function statementText(pieces: string[]): string;
