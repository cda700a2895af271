// Interop suite: the built bundle (dist/livesnap.mjs) as a real daemon process, driven by real
// initiators (libiscsi tools, qemu-img, iscsi-test-cu). Files end in .interop.ts so the unit
// run (`test`) never picks them up. Runs after `build` (turbo: test:interop dependsOn build).
import { packageConfig } from "../../vitest.shared.ts";

export default packageConfig({
  include: ["test/interop/**/*.interop.ts", "test/cli/**/*.interop.ts"],
  // Its own report, so the unit run's test-results/vitest.json is not overwritten.
  outputFile: { json: "test-results/interop.json" },
  testTimeout: 600_000,
  hookTimeout: 120_000,
  // One daemon per file and real initiators: keep the two CPUs for them.
  fileParallelism: false,
});
