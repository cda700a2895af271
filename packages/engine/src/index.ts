export type * from "./api.js";
export type { BlockFile, BlockStorage } from "./block-file.js";
export { FsBlockStorage } from "./block-file.js";
export { EngineError } from "./errors.js";
export { inlineIoStats } from "./inline-io.js";
export type { EngineOptions, EnginePool } from "./pool.js";
export { DEFAULT_CHUNK_SIZE, openPool } from "./pool.js";
export { MAX_ATOMIC_WRITE_BYTES } from "./volume.js";

import { nativePunchHole } from "./punch-hole.js";

/** Whether UNMAP and snapshot delete can give blocks back to the file system (else they zero-fill). */
export function holePunchingAvailable(): boolean {
  return nativePunchHole() !== null;
}
