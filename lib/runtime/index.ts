/**
 * The LoopStacks runtime: framework-free, every dependency injected.
 *
 *   const { registry, executor } = createRuntime({ store, model, mcp, ... })
 *   await registry.register({ id: "triage", type: "llm", realm: "cardiology", llm: { ... } })
 *   const { output, trace } = await executor.run("triage", input, { identity })
 */
import { createRealmAuthorizer } from "./authorizer";
import { createEvaluatorHook, type EvaluatorDeps, type EvaluatorHook } from "./evaluators";
import { createExecutor, type Executor } from "./executor";
import { createSchemaValidator } from "./json-schema";
import { createRegistry, type Registry } from "./registry";
import type { RuntimeStore } from "./store";
import { defaultHttpClient } from "./http-client";
import type { Authorizer, Clock, HttpClient, McpClientFactory, ModelClient, SecretResolver } from "./types";

export interface RuntimeDeps {
  store: RuntimeStore;
  model: ModelClient;
  mcp: McpClientFactory;
  /** How HTTP loops reach their endpoints; undici's request API on one pool per process by default. */
  http?: HttpClient;
  clock?: Clock;
  /** Defaults to the realm mappings stored in the database. */
  authorizer?: Authorizer;
  secrets?: SecretResolver;
  maxInputBytes?: number;
  /** Evaluator loops: when given, a loop's configured evaluators score its succeeded frames. */
  evaluators?: EvaluatorDeps;
}

export interface Runtime {
  registry: Registry;
  executor: Executor;
  authorizer: Authorizer;
  /** Waits for running runs, then closes MCP connections. */
  close(): Promise<void>;
}

export const systemClock: Clock = { now: () => new Date() };
export const noSecrets: SecretResolver = { resolve: () => undefined };

export function createRuntime(deps: RuntimeDeps): Runtime {
  const clock = deps.clock ?? systemClock;
  const validator = createSchemaValidator();
  const authorizer = deps.authorizer ?? createRealmAuthorizer({ store: deps.store, clock });
  const registry = createRegistry({ store: deps.store, validator });
  let evaluatorHook: EvaluatorHook | null = null;
  const executor = createExecutor({
    store: deps.store,
    model: deps.model,
    mcp: deps.mcp,
    http: deps.http ?? defaultHttpClient,
    clock,
    authorizer,
    secrets: deps.secrets ?? noSecrets,
    validator,
    ...(deps.maxInputBytes ? { maxInputBytes: deps.maxInputBytes } : {}),
    ...(deps.evaluators ? { onFrameSucceeded: (frame) => evaluatorHook?.onFrameSucceeded(frame) } : {}),
  });
  if (deps.evaluators) evaluatorHook = createEvaluatorHook({ ...deps.evaluators, start: executor.start });
  return {
    registry,
    executor,
    authorizer,
    async close() {
      // Runs start evaluations and evaluations start runs: wait until both have settled.
      do {
        await evaluatorHook?.idle();
        await executor.drain();
      } while ((evaluatorHook?.pending ?? 0) > 0);
      await deps.mcp.close();
    },
  };
}

export type { Executor, RunOptions, StartedRun, SucceededFrame } from "./executor";
export type { EvaluatorConfig, EvaluatorDeps, EvaluatorInput, EvaluatorScore, EvaluatorStore } from "./evaluators";
export type { Registry, RegisterResult } from "./registry";
export type { LoopDefinition, LoopDefinitionInput } from "./definition";
export { parseLoopDefinition } from "./definition";
export { buildTraceTree, formatTraceTree, walkTrace } from "./trace";
export * from "./types";
