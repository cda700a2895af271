#!/usr/bin/env node
// `pnpm bench` in apps/iscsi-target (and `turbo run bench`) lands here: the side-by-side
// benchmark of livesnap's target against tgt (compare-tgt.sh). Arguments pass through;
// LIVESNAP_BENCH_ARGS adds more (e.g. "--quick" or "--match livesnap").
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const extra = (process.env.LIVESNAP_BENCH_ARGS ?? "").split(/\s+/).filter((a) => a.length > 0);
const result = spawnSync("bash", [join(here, "compare-tgt.sh"), ...extra, ...process.argv.slice(2)], {
  stdio: "inherit",
});
if (result.error) {
  process.stderr.write(`bench: cannot run compare-tgt.sh: ${result.error.message}\n`);
  process.exit(1);
}
process.exit(result.status ?? 1);
