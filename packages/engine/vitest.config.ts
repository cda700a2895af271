import { packageConfig } from "../../vitest.shared.ts";

// Most I/O in the tests runs inline (the page cache serves it). The "pool" project runs every test
// again with inline I/O off, so the thread-pool path (batched readv/writev) is tested just as hard.
export default packageConfig({
  projects: [
    { extends: true, test: { name: "inline" } },
    { extends: true, test: { name: "pool", env: { LIVESNAP_INLINE_IO: "0" } } },
  ],
});
