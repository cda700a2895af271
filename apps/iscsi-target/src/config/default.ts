// The embedded default: one 1 GiB file-backed volume served on loopback without authentication.
import type { z } from "zod";
import type { configSchema } from "./schema.js";

export const DEFAULT_TARGET_IQN = "iqn.2026-11.io.livesnap:default";

export const DEFAULT_CONFIG: z.input<typeof configSchema> = {
  portals: [{ host: "127.0.0.1", port: 3260 }],
  api: { host: "127.0.0.1", port: 7260 },
  targets: [{ iqn: DEFAULT_TARGET_IQN, alias: "livesnap", autoVolumes: true }],
  defaultVolume: { name: "default", sizeBytes: 1024 * 1024 * 1024, blockSize: 512 },
};
