import { normalizeDn } from "../../db/queries/realms";
import { selectPrompt, type PromptSelectionContext } from "../runtime/prompt-selection";
import type { RuntimeStore } from "../runtime/store";
import type { SqlExecutor } from "./sql";
import type { LoopRevision, PromptVersion, RegisteredLoop, Role } from "../runtime/types";

/**
 * Reads of loop definitions for the steps of a worker. Revisions and prompt versions are
 * immutable and kept; a loop's current revision (which a new child frame runs) is re-read
 * after `currentTtlMs`, so a registration reaches every worker within that time.
 */
export interface LoopCatalog {
  revision(loopId: string, revision: number): Promise<LoopRevision | null>;
  current(loopId: string): Promise<RegisteredLoop | null>;
  promptVersion(loopId: string, version: number, context: { subject: string; input: unknown }): Promise<PromptVersion | null>;
}

export function createLoopCatalog(store: RuntimeStore, options: { currentTtlMs?: number; now?: () => number } = {}): LoopCatalog {
  const ttl = options.currentTtlMs ?? 1_000;
  const now = options.now ?? Date.now;
  const revisions = new Map<string, Promise<LoopRevision | null>>();
  const prompts = new Map<string, Promise<PromptVersion | null>>();
  const current = new Map<string, { at: number; loop: Promise<RegisteredLoop | null> }>();

  const remember = <T>(map: Map<string, Promise<T | null>>, key: string, load: () => Promise<T | null>): Promise<T | null> => {
    let entry = map.get(key);
    if (!entry) {
      entry = load().then((value) => {
        // Only what exists is immutable; a miss is asked again next time.
        if (value === null) map.delete(key);
        return value;
      });
      entry.catch(() => map.delete(key));
      map.set(key, entry);
    }
    return entry;
  };

  return {
    revision: (loopId, revision) => remember(revisions, `${loopId}@${revision}`, () => store.getRevision(loopId, revision)),
    async current(loopId) {
      const cached = current.get(loopId);
      if (cached && now() - cached.at < ttl) return cached.loop;
      const loop = store.getLoop(loopId);
      current.set(loopId, { at: now(), loop });
      loop.catch(() => current.delete(loopId));
      return loop;
    },
    promptVersion: (loopId, version, context) =>
      remember(prompts, `${loopId}#${version}`, async () => (await store.resolvePrompt(loopId, { ...context, version }))?.prompt ?? null),
  };
}

/**
 * The realm roles every frame's authorization reads, as one prepared statement (the same query
 * as the store's), with identical reads issued while one is already in flight sharing its
 * answer: frames admitted at the same moment by the same caller in the same realm ask the same
 * question. Nothing is kept once a read returns, so every later frame reads afresh.
 */
export function withRealmRoleReads(store: RuntimeStore, db: SqlExecutor): RuntimeStore {
  const inFlight = new Map<string, Promise<{ groupDn: string; role: Role }[]>>();
  const read = async (realmId: string, groups: readonly string[]) => {
    if (groups.length === 0) return [];
    const { rows } = await db.query<{ groupDn: string; role: Role }>(
      `select group_dn as "groupDn", role from realm_mappings where realm_id = $1 and group_dn = any($2::text[])`,
      [realmId, groups.map(normalizeDn)],
    );
    return rows;
  };
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key !== "getRealmRoles") return Reflect.get(target, key, receiver);
      return (realmId: string, groups: readonly string[]) => {
        const id = JSON.stringify([realmId, groups]);
        let pending = inFlight.get(id);
        if (!pending) {
          pending = read(realmId, groups).finally(() => inFlight.delete(id));
          inFlight.set(id, pending);
        }
        return pending;
      };
    },
  });
}

interface PromptStateRow {
  loop_id: string;
  version: number;
  system_prompt: string;
  params: PromptVersion["params"];
  author: string;
  message: string;
  created_at: Date | string;
  rollout_id: string | null;
  percent: number | null;
  sticky_by: string | null;
  c_version: number | null;
  c_system_prompt: string | null;
  c_params: PromptVersion["params"] | null;
  c_author: string | null;
  c_message: string | null;
  c_created_at: Date | string | null;
}

/**
 * Which prompt version a frame runs, as the store resolves it (`resolvePromptForFrame`): the
 * loop's active version, or a running rollout's pick for this caller or input. The state (active
 * version, rollout) is read with one prepared statement and shared by the frames of the same
 * loop admitted at the same moment; the pick itself is made per frame by `selectPrompt`. A
 * forced version (a replay) goes to the store. A step that starts a frame usually has the state
 * already, read by the statement that claimed the frame (`claimFrame`).
 */
export function withPromptStateReads(store: RuntimeStore, db: SqlExecutor): RuntimeStore {
  const inFlight = new Map<string, Promise<Parameters<typeof selectPrompt>[0] | null>>();
  const read = async (loopId: string) => {
    const { rows } = await db.query<PromptStateRow>(
      `select a.loop_id, a.version, a.system_prompt, a.params, a.author, a.message, a.created_at,
              ro.id as rollout_id, ro.percent, ro.sticky_by,
              c.version as c_version, c.system_prompt as c_system_prompt, c.params as c_params, c.author as c_author,
              c.message as c_message, c.created_at as c_created_at
         from loops l
         join prompt_versions a on a.loop_id = l.id and a.version = l.active_prompt_version
         left join prompt_rollouts ro on ro.loop_id = l.id and ro.ended_at is null
         left join prompt_versions c on c.loop_id = l.id and c.version = ro.candidate_version
        where l.id = $1
        order by ro.started_at desc
        limit 1`,
      [loopId],
    );
    const row = rows[0];
    if (!row) return null;
    const active: PromptVersion = {
      loopId: row.loop_id,
      version: row.version,
      systemPrompt: row.system_prompt,
      params: row.params,
      author: row.author,
      message: row.message,
      createdAt: new Date(row.created_at).toISOString(),
    };
    const rollout =
      row.rollout_id !== null && row.c_version !== null && row.percent !== null && row.sticky_by !== null
        ? {
            id: row.rollout_id,
            percent: row.percent,
            stickyBy: row.sticky_by,
            candidate: {
              loopId: row.loop_id,
              version: row.c_version,
              systemPrompt: row.c_system_prompt ?? "",
              params: row.c_params ?? {},
              author: row.c_author ?? "",
              message: row.c_message ?? "",
              createdAt: new Date(row.c_created_at ?? 0).toISOString(),
            },
          }
        : null;
    return { active, rollout };
  };
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key !== "resolvePrompt") return Reflect.get(target, key, receiver);
      return async (loopId: string, context: PromptSelectionContext & { version?: number }) => {
        if (context.version !== undefined) return target.resolvePrompt(loopId, context);
        let pending = inFlight.get(loopId);
        if (!pending) {
          pending = read(loopId).finally(() => inFlight.delete(loopId));
          inFlight.set(loopId, pending);
        }
        const state = await pending;
        return state ? selectPrompt(state, context) : null;
      };
    },
  });
}

/** A realm's mappings as `claimFrame` reads them: stored with normalized group DNs. */
export interface RealmMapping {
  groupDn: string;
  role: Role;
}

/** What `getRealmRoles(realm, groups)` answers, picked from all of the realm's mappings. */
export function rolesOfGroups(mappings: readonly RealmMapping[], groups: readonly string[]): RealmMapping[] {
  if (groups.length === 0) return [];
  const held = new Set(groups.map(normalizeDn));
  return mappings.filter((m) => held.has(m.groupDn));
}
