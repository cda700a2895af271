// Bundles the extension host (CommonJS for VS Code's Node host; `vscode` is provided at run time, `ws`
// and @livesnap/protocol are bundled in) and the block-map webview (browser IIFE, loaded under a
// strict CSP by nonce). Output: dist/extension.cjs, dist/webview.js (styles: media/webview.css).
import { mkdir } from "node:fs/promises";
import { build } from "esbuild";

const production = process.argv.includes("--production");
const common = {
  bundle: true,
  conditions: ["source"],
  sourcemap: production ? false : "linked",
  minify: production,
  legalComments: "none",
  logLevel: "warning",
};

await mkdir("dist", { recursive: true });
await Promise.all([
  build({
    ...common,
    entryPoints: ["src/extension.ts"],
    outfile: "dist/extension.cjs",
    platform: "node",
    target: "node20",
    format: "cjs",
    // ws tries optional native speedups; without them it uses its JS fallbacks.
    external: ["vscode", "bufferutil", "utf-8-validate"],
  }),
  build({
    ...common,
    entryPoints: ["src/webview/main.ts"],
    outfile: "dist/webview.js",
    platform: "browser",
    target: "es2022",
    format: "iife",
  }),
]);
