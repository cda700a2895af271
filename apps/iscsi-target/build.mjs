// Bundle the daemon + CLI into one runnable file: dist/livesnap.mjs (node >= 24, no node_modules
// needed), with the engine's optional native hole punch beside it (dist/punch-hole.node).
import { copyFileSync, existsSync, rmSync } from "node:fs";
import { build } from "esbuild";

await build({
  entryPoints: ["src/cli.ts"],
  outfile: "dist/livesnap.mjs",
  bundle: true,
  platform: "node",
  target: "node24",
  format: "esm",
  conditions: ["source"],
  sourcemap: "linked",
  legalComments: "none",
  // CommonJS dependencies (pino) call require(): give the ESM bundle one.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __livesnapCreateRequire } from 'node:module';\nconst require = __livesnapCreateRequire(import.meta.url);",
  },
  logLevel: "warning",
});

// The engine's build compiles it where a C compiler and Node's headers exist; without it the
// daemon zero-fills unmapped chunks instead of punching holes (it logs which at start).
const punch = new URL("../../packages/engine/dist/punch-hole.node", import.meta.url);
const beside = new URL("./dist/punch-hole.node", import.meta.url);
if (existsSync(punch)) copyFileSync(punch, beside);
else rmSync(beside, { force: true });
