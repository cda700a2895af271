// One vitest setup for every package: workspace packages resolve to their TypeScript sources,
// so a test never runs against a stale dist/.
import { fileURLToPath } from "node:url";
import { defineConfig, type ViteUserConfig } from "vitest/config";

const root = fileURLToPath(new URL(".", import.meta.url));

export const workspaceAliases = [
  { find: /^@livesnap\/(engine|iscsi|protocol|crc32c)$/, replacement: `${root}packages/$1/src/index.ts` },
];

export function packageConfig(overrides: ViteUserConfig["test"] = {}): ViteUserConfig {
  return defineConfig({
    resolve: { alias: workspaceAliases },
    test: {
      include: ["test/**/*.test.ts"],
      testTimeout: 30_000,
      // The JSON report is a turbo output, so tools/dev test can total the counts even on a cache hit.
      reporters: ["default", "json"],
      outputFile: { json: "test-results/vitest.json" },
      ...overrides,
    },
  });
}
