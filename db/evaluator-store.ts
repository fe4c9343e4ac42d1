import type { EvaluatorStore } from "../lib/runtime/evaluators";
import type { Db } from "./client";
import { listLoopEvaluators } from "./queries/prompts";
import { getFrameForScoring, insertScore } from "./queries/scores";

/** Evaluator configuration and evaluator scores on PostgreSQL or PGlite, for `createRuntime({ evaluators })`. */
export function createDbEvaluatorStore(db: Db): EvaluatorStore {
  return {
    async listEvaluators(loopId) {
      const evaluators = await listLoopEvaluators(db, { loopId, scope: "all" });
      return evaluators.map(({ evaluatorLoopId, sampleRate, scoreName }) => ({ evaluatorLoopId, sampleRate, scoreName }));
    },
    async recordScore(score) {
      const frame = await getFrameForScoring(db, { frameId: score.frameId, scope: "all" });
      if (!frame) throw new Error(`Frame ${score.frameId} no longer exists`);
      await insertScore(db, {
        frame,
        name: score.name,
        value: score.value,
        label: score.label,
        comment: score.comment,
        source: "evaluator",
        author: score.author,
        evaluatorRunId: score.evaluatorRunId,
      });
    },
  };
}
