// Bundle the extension host (CommonJS, `vscode` external) and the webview (browser IIFE).
import { build } from "esbuild";

const common = { bundle: true, conditions: ["source"], sourcemap: "linked", legalComments: "none", logLevel: "warning" };
await Promise.all([
  build({ ...common, entryPoints: ["src/extension.ts"], outfile: "dist/extension.cjs", platform: "node", target: "node20", format: "cjs", external: ["vscode"] }),
]);
