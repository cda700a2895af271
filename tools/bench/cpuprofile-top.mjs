#!/usr/bin/env node
// cpuprofile-top.mjs FILE.cpuprofile [N] - the N (30) functions with the most self time in a
// V8 CPU profile (`node --cpu-prof`), with their share of the non-idle samples; then the same
// by total (self + callees) time.
import { readFileSync } from "node:fs";

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error("usage: cpuprofile-top.mjs FILE.cpuprofile [N]");
  process.exit(2);
}
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const hits = new Map();
for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);

const label = (n) => {
  const f = n.callFrame;
  const where = f.url ? `${f.url.split("/").slice(-1)[0]}:${f.lineNumber + 1}` : "";
  return `${f.functionName || "(anonymous)"} ${where}`.trim();
};
const self = new Map();
const total = new Map();
let busy = 0;
for (const [id, count] of hits) {
  const n = byId.get(id);
  const name = label(n);
  if (name === "(idle)") continue;
  busy += count;
  self.set(name, (self.get(name) ?? 0) + count);
  // Total time: count each distinct function once per stack.
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const nm = label(byId.get(cur));
    if (seen.has(nm)) continue;
    seen.add(nm);
    total.set(nm, (total.get(nm) ?? 0) + count);
  }
}
const all = profile.samples.length;
console.log(`${all} samples, ${busy} busy (${((100 * busy) / all).toFixed(1)} %)`);
const print = (title, m) => {
  console.log(`\n${title} (% of busy samples)`);
  for (const [name, count] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * count) / busy).toFixed(1).padStart(6)}  ${name}`);
  }
};
print("self", self);
print("total", total);
