import type { RuntimeStore } from "../lib/runtime/store";
import { keepUntilChanged } from "./change-feed";
import type { Db } from "./client";
import { appendAuditEvent, auditActorOf } from "./queries/audit";
import {
  existingLoopIds,
  getActivePromptVersion,
  getCurrentLoop,
  getLoopRevision,
  listLoopRevisions,
  listLoops,
  saveLoopRevision,
} from "./queries/loops";
import { createPromptResolver } from "./queries/prompts";
import { createRealmRolesReader } from "./queries/realms";
import {
  getRunTree,
  insertConversationTurn,
  insertFrame,
  insertRunWithEvent,
  insertToolCall,
  listConversationTurns,
  updateFrame,
  updateToolCall,
  upsertTraceBatch,
} from "./queries/runs";

/** The runtime's store on PostgreSQL or PGlite. The runtime authorizes; its reads are unscoped. */
export function createDbStore(db: Db): RuntimeStore {
  const getRealmRoles = createRealmRolesReader(db);
  // On embedded PGlite, a loop's current revision is kept until the loop tables change (see ChangeFeed).
  const readLoop = keepUntilChanged(db, ["loops", "loop_revisions"], (id: string) => getCurrentLoop(db, id));
  return {
    getLoop: readLoop,
    getRevision: (loopId, revision) => getLoopRevision(db, loopId, revision),
    existingLoopIds: (ids) => existingLoopIds(db, ids),
    listLoops: (filter) => listLoops(db, { scope: filter.realms ?? "all", ...(filter.type ? { type: filter.type } : {}) }),
    listRevisions: (loopId) => listLoopRevisions(db, { loopId, scope: "all" }),
    saveRevision: (params) => saveLoopRevision(db, params),
    getActivePrompt: (loopId) => getActivePromptVersion(db, loopId),
    resolvePrompt: createPromptResolver(db),
    getRealmRoles,
    createRun: (run, started) => insertRunWithEvent(db, run, { ...started, actor: auditActorOf(started.actor) }),
    insertFrame: (frame) => insertFrame(db, frame),
    updateFrame: (frameId, patch) => updateFrame(db, frameId, patch),
    insertToolCall: (call) => insertToolCall(db, call),
    finishToolCall: (frameId, id, patch) => updateToolCall(db, frameId, id, patch),
    saveTurn: (frameId, turn, createdAt) => insertConversationTurn(db, frameId, turn, createdAt),
    writeTraceBatch: (batch) => upsertTraceBatch(db, batch),
    loadTurns: (frameId) => listConversationTurns(db, frameId),
    getTrace: (runId) => getRunTree(db, { runId, scope: "all" }),
    appendAudit: async (event) => {
      await appendAuditEvent(db, {
        ...event,
        actor: auditActorOf(event.actor),
      });
    },
    // A transaction's store reads every time (its transaction has no change feed, so nothing is
    // kept); the caches of `db` are dropped by the changes it announces when it commits.
    transaction: (work) => db.transaction((tx) => work(createDbStore(tx as unknown as Db))),
  };
}
