export * from "./governance";
export * from "./loops";
export * from "./prompts";
export * from "./runs";
