import { createEvaluatorHook, type EvaluatorDeps } from "../runtime/evaluators";
import type { Executor, SucceededFrame } from "../runtime/executor";
import type { SqlExecutor } from "./sql";

export interface ClusterEvaluationsDeps extends EvaluatorDeps {
  /** Where the evaluator configuration and the runs are read. */
  db: SqlExecutor;
  /** A cluster executor's `start`: every evaluation is a cluster run of its own. */
  start: Executor["start"];
}

export interface ClusterEvaluations {
  /** Give it to `startWorker({ onFrameSucceeded })`. */
  onFrameSucceeded(frame: SucceededFrame): void;
  /** Resolves once every evaluation started so far has ended (scored, or given up with a log line). */
  idle(): Promise<void>;
}

/**
 * Evaluator loops on a worker: after a frame of a loop with evaluators succeeds here, the
 * worker starts each sampled evaluator as a cluster run, waits for it and records the score.
 *
 * Frames of an evaluation run are never evaluated, whichever worker executes them: the run's
 * row names the frame it scores (`evaluates_frame_id`), which only the evaluator hook sets —
 * a caller cannot make a run of theirs pass for one, whatever its input. A per-process record
 * of the runs it started would miss the frames other workers execute.
 */
export function createClusterEvaluations(deps: ClusterEvaluationsDeps): ClusterEvaluations {
  const hook = createEvaluatorHook(deps);
  const logger = deps.logger ?? { error: (message: string, error?: unknown) => console.error(message, error) };
  const checks = new Set<Promise<void>>();

  /** One query: whether the loop has evaluators at all, and whether the run is itself an evaluation. */
  async function isToBeEvaluated(frame: SucceededFrame): Promise<boolean> {
    const { rows } = await deps.db.query<{ has_evaluators: boolean; is_evaluation: boolean }>(
      `select exists (select 1 from loop_evaluators where loop_id = $1) as has_evaluators,
              exists (select 1 from runs where id = $2 and evaluates_frame_id is not null) as is_evaluation`,
      [frame.loopId, frame.runId],
    );
    const row = rows[0];
    return row !== undefined && row.has_evaluators && !row.is_evaluation;
  }

  return {
    onFrameSucceeded(frame) {
      // The step read whether the loop has evaluators when it loaded the frame.
      if (frame.hasEvaluators === false) return;
      const task = isToBeEvaluated(frame)
        .then((isEvaluated) => {
          if (isEvaluated) hook.onFrameSucceeded(frame);
        })
        .catch((error: unknown) => logger.error(`Evaluators of ${frame.loopId} could not be read:`, error))
        .finally(() => checks.delete(task));
      checks.add(task);
    },
    async idle() {
      do {
        await Promise.allSettled([...checks]);
        await hook.idle();
      } while (checks.size > 0 || hook.pending > 0);
    },
  };
}
