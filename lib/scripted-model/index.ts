export { createScriptedModelServer, type RecordedRequest, type ScriptedModelServer, type ScriptedModelServerOptions } from "./server";
export {
  autoScript,
  inputFromSchema,
  type ContentBlock,
  type Script,
  type ScriptContext,
  type ScriptedError,
  type ScriptedRequest,
  type ScriptFunction,
  type ScriptStep,
} from "./scripts";
