// Root config: `vitest` here runs every package as its own project.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: { projects: ["packages/*", "apps/*"] },
});
