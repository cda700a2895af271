export type * from "./api.js";
export type { BlockFile, BlockStorage } from "./block-file.js";
export { FsBlockStorage } from "./block-file.js";
export { EngineError } from "./errors.js";
export { inlineIoStats } from "./inline-io.js";
export type { EngineOptions, EnginePool } from "./pool.js";
export { DEFAULT_CHUNK_SIZE, openPool } from "./pool.js";
export { holePunchingAvailable } from "./punch-hole.js";
export { MAX_ATOMIC_WRITE_BYTES } from "./volume.js";
