import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import nextCoreWebVitals from "eslint-config-next/core-web-vitals";
import nextTypescript from "eslint-config-next/typescript";

const root = dirname(fileURLToPath(import.meta.url));

const config = [
  { ignores: ["node_modules/**", ".next/**", ".data/**", "db/migrations/**", "next-env.d.ts", "test-results/**", "playwright-report/**", "bench/out/**"] },
  ...nextCoreWebVitals,
  ...nextTypescript,
  {
    settings: { next: { rootDir: root } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // The runtime core stays framework-free and reads no environment.
    files: ["lib/runtime/**/*.ts", "db/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: ["next", "next/*", "react", "react-dom", "@/app/*", "@/components/*", "server-only"] },
      ],
      "no-restricted-properties": ["error", { object: "process", property: "env", message: "Inject configuration instead." }],
    },
  },
];

export default config;
