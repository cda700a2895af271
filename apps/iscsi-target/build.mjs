// Bundle the daemon + CLI into one runnable file: dist/livesnap.mjs (node >= 24, no node_modules needed).
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
