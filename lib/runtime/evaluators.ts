import { z } from "zod";
import type { Executor, SucceededFrame } from "./executor";

/** One evaluator loop configured on a loop. */
export interface EvaluatorConfig {
  evaluatorLoopId: string;
  /** 0..1: the share of succeeded frames that are evaluated. */
  sampleRate: number;
  scoreName: string;
}

export interface EvaluatorScore {
  frameId: string;
  name: string;
  value: number;
  label: string | null;
  comment: string;
  /** The evaluator loop. */
  author: string;
  evaluatorRunId: string;
}

/**
 * A score is a number from -1e15 to 1e15: room for any scale people score on, while every
 * version's figures (means and spreads over its scores) stay within what a double can hold.
 */
export const SCORE_LIMIT = 1e15;
const scoreValue = z.number().finite().min(-SCORE_LIMIT).max(SCORE_LIMIT);

/** Where evaluator configuration is read and their scores written (`db/evaluator-store.ts`). */
export interface EvaluatorStore {
  listEvaluators(loopId: string): Promise<EvaluatorConfig[]>;
  recordScore(score: EvaluatorScore): Promise<void>;
}

export interface EvaluatorDeps {
  store: EvaluatorStore;
  /** Decides sampling; injectable so tests can be exact. */
  random?: () => number;
  /** Where a failed evaluation is reported; nothing about it reaches the evaluated run. */
  logger?: { error(message: string, error?: unknown): void };
}

/** What an evaluator loop receives as its input. */
export interface EvaluatorInput {
  input: unknown;
  output: unknown;
  loopId: string;
  frameId: string;
  promptVersion: number | null;
}

const evaluatorAnswerSchema = z.union([
  scoreValue.transform((score) => ({ score, label: null, comment: "" })),
  z
    .object({ score: scoreValue, label: z.string().max(200).optional(), comment: z.string().max(10_000).optional() })
    .transform((answer) => ({ score: answer.score, label: answer.label ?? null, comment: answer.comment ?? "" })),
]);

/**
 * An evaluator answers `{ score, label?, comment? }` or a bare number. An LLM evaluator's
 * output is text, so a string holding that JSON (or a number) is accepted too.
 */
export function parseEvaluatorAnswer(output: unknown): { score: number; label: string | null; comment: string } {
  let value = output;
  if (typeof value === "string") {
    const text = value.trim();
    try {
      value = JSON.parse(text);
    } catch {
      throw new Error(`The evaluator answered text that is neither a number nor JSON: ${JSON.stringify(text.slice(0, 200))}`);
    }
  }
  const parsed = evaluatorAnswerSchema.safeParse(value);
  if (!parsed.success) {
    throw new Error(`The evaluator must answer { "score": number, "label"?: string, "comment"?: string } or a number; it answered ${JSON.stringify(value)?.slice(0, 200)}`);
  }
  return parsed.data;
}

export interface EvaluatorHook {
  onFrameSucceeded(frame: SucceededFrame): void;
  /** Resolves once every evaluation started so far has ended. */
  idle(): Promise<void>;
  readonly pending: number;
}

/**
 * Runs a loop's evaluator loops after its frames succeed. Fire and forget: the evaluated frame
 * has already been recorded and returned by the time anything here runs, and a failure (an
 * evaluator that is denied, fails or answers nonsense) is reported to the logger and produces
 * no score — a made-up score would skew the version's figures.
 *
 * Each evaluation is a run of its own, started with the evaluated run's original caller, so the
 * caller must be allowed to invoke the evaluator loop too. Frames of evaluation runs are not
 * evaluated themselves, so an evaluator cannot set off an endless chain.
 */
export function createEvaluatorHook(deps: EvaluatorDeps & { start: Executor["start"] }): EvaluatorHook {
  const random = deps.random ?? Math.random;
  const logger = deps.logger ?? { error: (message: string, error?: unknown) => console.error(message, error) };
  const evaluationRuns = new Set<string>();
  const pending = new Set<Promise<void>>();

  async function evaluate(frame: SucceededFrame): Promise<void> {
    const evaluators = await deps.store.listEvaluators(frame.loopId);
    await Promise.all(
      evaluators
        .filter((evaluator) => evaluator.sampleRate > 0 && random() < evaluator.sampleRate)
        .map(async (evaluator) => {
          try {
            const input: EvaluatorInput = { input: frame.input, output: frame.output, loopId: frame.loopId, frameId: frame.frameId, promptVersion: frame.promptVersion };
            const started = await deps.start(evaluator.evaluatorLoopId, input, { identity: frame.identity, evaluates: { frameId: frame.frameId } });
            evaluationRuns.add(started.runId);
            const result = await started.done.finally(() => evaluationRuns.delete(started.runId));
            if (result.status !== "succeeded") {
              throw new Error(`Evaluation run ${started.runId} ended ${result.status}: ${result.error?.message ?? "no error recorded"}`);
            }
            const answer = parseEvaluatorAnswer(result.output);
            await deps.store.recordScore({
              frameId: frame.frameId,
              name: evaluator.scoreName,
              value: answer.score,
              label: answer.label,
              comment: answer.comment,
              author: evaluator.evaluatorLoopId,
              evaluatorRunId: started.runId,
            });
          } catch (error) {
            logger.error(`Evaluator ${evaluator.evaluatorLoopId} could not score frame ${frame.frameId} of ${frame.loopId}:`, error);
          }
        }),
    );
  }

  return {
    onFrameSucceeded(frame) {
      if (evaluationRuns.has(frame.runId)) return;
      const task = evaluate(frame)
        .catch((error: unknown) => logger.error(`Evaluators of ${frame.loopId} could not be read:`, error))
        .finally(() => pending.delete(task));
      pending.add(task);
    },
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    get pending() {
      return pending.size;
    },
  };
}
