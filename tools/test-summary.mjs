// Totals the test reports every package leaves in test-results/*.json (vitest's JSON reporter, or
// {"numPassedTests","numFailedTests","numPendingTests"} written by other runners) into one closing
// line "tests: N passed, N failed, N skipped". Exit 1 when a report is unreadable or counts a failure.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
let passed = 0;
let failed = 0;
let skipped = 0;
let bad = 0;
const lines = [];
// Named failures go last, so a CI log that keeps only its tail still says what failed and why.
const failures = [];
for (const group of ["packages", "apps"]) {
  for (const pkg of readdirSync(join(root, group))) {
    const dir = join(root, group, pkg, "test-results");
    let files = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    } catch {
      continue;
    }
    for (const f of files) {
      const path = join(dir, f);
      try {
        const r = JSON.parse(readFileSync(path, "utf8"));
        const p = Number(r.numPassedTests ?? 0);
        const x = Number(r.numFailedTests ?? 0);
        const s = Number(r.numPendingTests ?? 0) + Number(r.numTodoTests ?? 0);
        passed += p;
        failed += x;
        skipped += s;
        lines.push(`  ${group}/${pkg}/${f}: ${p} passed, ${x} failed${s ? `, ${s} skipped` : ""}`);
        for (const file of r.testResults ?? []) {
          for (const t of file.assertionResults ?? []) {
            if (t.status !== "failed") continue;
            const why = String(t.failureMessages?.[0] ?? "")
              .split("\n")
              .slice(0, 6)
              .join("\n      ");
            failures.push(`  FAILED ${group}/${pkg}: ${t.fullName ?? t.title}\n      ${why}`);
          }
          if (file.status === "failed" && !(file.assertionResults ?? []).some((t) => t.status === "failed")) {
            failures.push(
              `  FAILED ${group}/${pkg}: ${file.name}\n      ${String(file.message ?? "").split("\n")[0]}`,
            );
          }
        }
      } catch (e) {
        bad++;
        lines.push(`  ${group}/${pkg}/${f}: unreadable (${e.message})`);
      }
    }
  }
}
console.log(lines.join("\n"));
if (failures.length > 0) console.log(failures.join("\n"));
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || bad > 0 ? 1 : 0);
