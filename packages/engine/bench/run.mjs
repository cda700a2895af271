// Bundles the TypeScript benchmark with esbuild (workspace packages resolve to their sources)
// and runs it: `pnpm --filter @livesnap/engine bench`.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));
const out = await mkdtemp(join(tmpdir(), "livesnap-bench-build-"));
try {
  const outfile = join(out, "engine-bench.mjs");
  await build({
    entryPoints: [join(here, "engine-bench.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    conditions: ["source"],
    outfile,
    logLevel: "warning",
  });
  await import(pathToFileURL(outfile).href);
} finally {
  await rm(out, { recursive: true, force: true });
}
