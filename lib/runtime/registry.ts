import { canonicalJson, sha256Hex } from "../canonical-json";
import { AppError, type AppErrorIssue } from "../errors";
import {
  isLoopRefTool,
  parseLoopDefinition,
  type LlmLoopDefinition,
  type LoopDefinition,
  type LoopDefinitionInput,
} from "./definition";
import type { SchemaValidator } from "./json-schema";
import type { EndedRollout, RuntimeStore } from "./store";
import type { Identity, LoopRevision, RegisteredLoop } from "./types";

export interface RegisterOptions {
  /** Who registers: recorded on the revision, any prompt version it creates, and the audit log. */
  actor?: string | Pick<Identity, "subject" | "kind" | "source">;
}

export interface RegisterResult {
  loop: RegisteredLoop;
  /** false when the definition equals the current revision (nothing was written). */
  changed: boolean;
  revision: number;
  /** The prompt version this registration created and activated, if any. */
  promptVersion: number | null;
  /** A prompt rollout that was running and ended because this registration moved the active version. */
  endedRollout: EndedRollout | null;
}

export interface Registry {
  register(definition: LoopDefinitionInput | unknown, options?: RegisterOptions): Promise<RegisterResult>;
  /**
   * Registers several loops that may reference one another (a loops file), in one transaction:
   * all of them, or, when any is refused, none.
   */
  registerMany(definitions: unknown[], options?: RegisterOptions): Promise<RegisterResult[]>;
  /** Parses and checks a definition without writing it. */
  validate(definition: unknown, alsoDefined?: ReadonlySet<string>): Promise<LoopDefinition>;
  get(loopId: string): Promise<RegisteredLoop>;
  list(filter?: { realms?: readonly string[]; type?: string }): Promise<RegisteredLoop[]>;
  revisions(loopId: string): Promise<LoopRevision[]>;
  /**
   * The same registry over another store — a transaction's — so that a caller can register loops
   * together with writes of its own, committed or rolled back as one.
   */
  withStore(store: RuntimeStore): Registry;
}

export interface RegistryDeps {
  store: RuntimeStore;
  validator: SchemaValidator;
}

export function definitionHash(definition: LoopDefinition): string {
  return sha256Hex(canonicalJson(definition));
}

function promptFields(definition: LlmLoopDefinition) {
  const { model, maxTokens, temperature, systemPrompt } = definition.llm;
  return { systemPrompt, params: { model, maxTokens, ...(temperature !== undefined ? { temperature } : {}) } };
}

export function createRegistry({ store, validator }: RegistryDeps): Registry {
  const validate = async (input: unknown, alsoDefined: ReadonlySet<string> = new Set(), { existingLoopIds } = store): Promise<LoopDefinition> => {
    const definition = parseLoopDefinition(input);
    const issues: AppErrorIssue[] = [];
    for (const key of ["inputSchema", "outputSchema"] as const) {
      const schema = definition[key];
      if (schema) {
        for (const issue of validator.checkSchema(schema)) issues.push({ path: key, message: `not a valid JSON Schema: ${issue.message}` });
      }
    }
    if (definition.type === "llm") {
      const refs = definition.llm.tools.flatMap((tool, i) => (isLoopRefTool(tool) ? [{ ref: tool.loopRef, i }] : []));
      // A loop may call itself, and loops registered together may call each other.
      const outside = refs.filter(({ ref }) => ref !== definition.id && !alsoDefined.has(ref));
      const existing = await existingLoopIds([...new Set(outside.map((r) => r.ref))]);
      for (const { ref, i } of outside) {
        if (!existing.has(ref)) issues.push({ path: `llm.tools[${i}].loopRef`, message: `loop "${ref}" does not exist` });
      }
    }
    if (issues.length > 0) {
      throw new AppError("invalid_definition", `Invalid loop definition "${definition.id}":\n${issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`, { issues });
    }
    return definition;
  };

  const save = async (definition: LoopDefinition, by: RegisterOptions["actor"], target: RuntimeStore = store): Promise<RegisterResult> => {
    const actor = typeof by === "string" || by === undefined ? { subject: by ?? "sdk", kind: "user" as const, source: "sdk" } : by;
    let prompt;
    if (definition.type === "llm") {
      const current = await target.getLoop(definition.id);
      const next = promptFields(definition);
      const previous = current?.definition.type === "llm" ? promptFields(current.definition) : null;
      // A prompt version is created when the definition's prompt changes, not when a prompt
      // owner has promoted another version since: re-applying a loops file must not undo that.
      if (!previous || canonicalJson(previous) !== canonicalJson(next)) {
        prompt = { ...next, message: current ? `Prompt changed in a new revision of ${definition.id}` : "Initial prompt" };
      }
    }
    const result = await target.saveRevision({ definition, hash: definitionHash(definition), actor: actor.subject, ...(prompt ? { prompt } : {}) });
    if (result.changed) {
      const rollout = result.endedRollout;
      await target.appendAudit({
        action: result.loop.revision === 1 ? "loop.registered" : "loop.revised",
        actor,
        realmId: definition.realm,
        targetType: "loop",
        targetId: definition.id,
        data: {
          revision: result.loop.revision,
          ...(result.promptVersion ? { promptVersion: result.promptVersion } : {}),
          // As a promotion's event records the rollout it ended.
          ...(rollout ? { rollout: { id: rollout.id, candidateVersion: rollout.candidateVersion, percent: rollout.percent, outcome: rollout.outcome } } : {}),
        },
      });
    }
    return { loop: result.loop, changed: result.changed, revision: result.loop.revision, promptVersion: result.promptVersion, endedRollout: result.endedRollout };
  };

  return {
    validate,
    async register(input, options = {}) {
      const definition = await validate(input);
      return save(definition, options.actor);
    },
    async registerMany(inputs, options = {}) {
      const ids = new Set<string>();
      for (const input of inputs) {
        const id = (input as { id?: unknown } | null)?.id;
        if (typeof id === "string") ids.add(id);
      }
      return store.transaction(async (tx) => {
        const issues: AppErrorIssue[] = [];
        // Each definition with its position in the input, so that every problem names the entry at fault.
        const parsed: { definition: LoopDefinition; index: number }[] = [];
        for (const [index, input] of inputs.entries()) {
          try {
            parsed.push({ definition: await validate(input, ids, tx), index });
          } catch (error) {
            if (error instanceof AppError) issues.push(...positioned(error, index).issues);
            else throw error;
          }
        }
        const seen = new Set<string>();
        for (const { definition, index } of parsed) {
          if (seen.has(definition.id)) issues.push({ path: `[${index}].id`, message: `loop "${definition.id}" is defined twice` });
          seen.add(definition.id);
        }
        if (issues.length > 0) throw invalidLoops(issues);
        const results: RegisterResult[] = [];
        for (const { definition, index } of parsed) {
          try {
            results.push(await save(definition, options.actor, tx));
          } catch (error) {
            // A refusal of the database (a loop moved to another realm, a value it cannot store)
            // names its entry too; nothing of the file is kept.
            if (error instanceof AppError) throw positioned(error, index);
            throw error;
          }
        }
        return results;
      });
    },
    async get(loopId) {
      const loop = await store.getLoop(loopId);
      if (!loop) throw new AppError("not_found", `Loop "${loopId}" does not exist`);
      return loop;
    },
    list: (filter = {}) => store.listLoops(filter),
    withStore: (other) => createRegistry({ store: other, validator }),
    async revisions(loopId) {
      const revisions = await store.listRevisions(loopId);
      if (revisions.length === 0) throw new AppError("not_found", `Loop "${loopId}" does not exist`);
      return revisions;
    },
  };
}

function invalidLoops(issues: AppErrorIssue[]): AppError {
  return new AppError("invalid_definition", `Invalid loops:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`, { issues });
}

/** The same error, its issues prefixed with the position of the entry they are about. */
function positioned(error: AppError, index: number): AppError {
  const issues = error.issues.length > 0 ? error.issues : [{ path: "", message: error.message }];
  return new AppError(error.code, error.message, {
    issues: issues.map((i) => ({ path: `[${index}]${i.path ? `.${i.path}` : ""}`, message: i.message })),
    ...(error.details ? { details: error.details } : {}),
    cause: error,
  });
}
