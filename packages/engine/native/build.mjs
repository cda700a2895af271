// Compiles punch-hole.c into dist/punch-hole.node with the system C compiler against the running
// Node's own headers (Node-API: one binary serves every Node version). Without a compiler or the
// headers it says so and leaves no binary: the engine then zero-fills instead of punching holes.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, realpathSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(here, "../dist/punch-hole.node");
const headerDirs = [
  resolve(dirname(realpathSync(process.execPath)), "../include/node"),
  "/usr/include/node",
  "/usr/local/include/node",
].filter((d) => existsSync(join(d, "node_api.h")));
if (headerDirs.length === 0) {
  console.warn("punch-hole: no node_api.h found: UNMAP will zero-fill instead of punching holes");
  process.exit(0);
}
mkdirSync(dirname(out), { recursive: true });
rmSync(out, { force: true });
const cc = process.env.CC ?? "cc";
const args = [
  "-O2",
  "-Wall",
  "-Werror",
  "-shared",
  "-fPIC",
  `-I${headerDirs[0]}`,
  "-o",
  out,
  join(here, "punch-hole.c"),
];
const r = spawnSync(cc, args, { stdio: "inherit" });
if (r.error || r.status !== 0) {
  console.warn(`punch-hole: ${cc} failed (${r.error?.message ?? `exit ${r.status}`}): UNMAP will zero-fill`);
  rmSync(out, { force: true });
}
