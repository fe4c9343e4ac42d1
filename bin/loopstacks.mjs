#!/usr/bin/env node
// The `loopstacks` command. It runs the TypeScript sources directly through tsx.
const [major] = process.versions.node.split(".").map(Number);
if (major < 22) {
  console.error(
    `loopstacks needs Node.js 22 or later (this is ${process.version}). ` +
      "Run it through npm (`npm start`, `npx loopstacks …`), which uses the Node 22 the project installs.",
  );
  process.exit(1);
}
const { register } = await import("tsx/esm/api");
register();
await import("../cli/main.ts");
