// The engine's public contract, as seen by the target, the management API and the CLI.
// Implementations live next to this file; consumers import only these names from "@livesnap/engine".
// Offsets and lengths are bytes (JS numbers: exact up to 8 PiB).

export type LogicalBlockSize = 512 | 4096;

export type EngineErrorCode =
  | "not-found"
  | "already-exists"
  | "invalid-argument"
  | "out-of-range"
  | "no-space"
  | "io-error"
  | "snapshot-invalid"
  | "busy"
  | "closed";

export interface VolumeInfo {
  name: string;
  /** Permanent identity (UUID), also the source of the LUN's NAA designator. */
  id: string;
  sizeBytes: number;
  blockSize: LogicalBlockSize;
  chunkSize: number;
  createdAt: string;
  snapshotCount: number;
  /** Bytes of the origin image that hold data (thin provisioning). */
  allocatedBytes: number;
}

export interface SnapshotInfo {
  name: string;
  id: string;
  volume: string;
  createdAt: string;
  /** Admission stamp: writes admitted with a smaller seq belong to this snapshot. */
  seq: number;
  /** Chunks held in this snapshot's own image. */
  preservedChunks: number;
  preservedBytes: number;
  valid: boolean;
  invalidReason?: string;
  /** Consistency group id when taken by createGroupSnapshot. */
  group?: string;
}

/**
 * Stamped when a write is admitted (iSCSI: when its SCSI command PDU is received, before its data).
 * It reserves the write's place, in admission order, in the queue of every chunk it touches.
 * Every ticket must end in exactly one write/writeZeroes/unmap/compareAndWrite or in cancel().
 */
export interface WriteTicket {
  readonly seq: number;
  readonly offset: number;
  readonly length: number;
}

export interface LbaStatusRange {
  offset: number;
  length: number;
  mapped: boolean;
}

export interface ByteRange {
  offset: number;
  length: number;
}

export interface BlockMapQuery {
  /** Snapshot name to view; omitted = the live volume. */
  view?: string;
  /** Byte range, default the whole volume. */
  start?: number;
  end?: number;
  /** Number of buckets the range is folded into (1..65536). */
  buckets: number;
  /** Mark chunks written since this snapshot as "written". */
  since?: string;
}

export interface BlockMap {
  start: number;
  end: number;
  chunkSize: number;
  buckets: number;
  /**
   * Names of the count columns: "unallocated", "shared" (data in the origin, not preserved),
   * "written" (written since `since`, only with `since`), then "preserved:<snapshot name>".
   */
  classes: string[];
  /** buckets × classes.length chunk counts, row-major by bucket. */
  counts: Uint32Array;
}

export interface ChangedChunks {
  chunkSize: number;
  ranges: ByteRange[];
}

export interface VolumeStats {
  reads: number;
  writes: number;
  bytesRead: number;
  bytesWritten: number;
  cowCopies: number;
  cowBytes: number;
  unmaps: number;
  flushes: number;
  /** Acknowledged write-back writes that failed in the background (each reported by a flush). */
  writeBackErrors: number;
}

export interface RollbackProgress {
  volume: string;
  snapshot: string;
  doneChunks: number;
  totalChunks: number;
}

export interface PoolEvents {
  "snapshot-created": [{ volume: string; snapshot: SnapshotInfo }];
  "snapshot-deleted": [{ volume: string; snapshot: string }];
  "snapshot-invalidated": [{ volume: string; snapshot: string; reason: string }];
  "rollback-progress": [RollbackProgress];
  /** Chunk indexes written in the live volume (raw; the management layer coalesces). */
  "chunks-written": [{ volume: string; chunks: readonly number[] }];
  "volume-created": [{ volume: VolumeInfo }];
  "volume-deleted": [{ volume: string }];
  "volume-resized": [{ volume: VolumeInfo }];
}

/** pino-compatible subset, so the engine needs no logging dependency. */
export interface EngineLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface PoolOptions {
  /** Pool directory: origin images, COW store, lookup tables, metadata log. Created if missing. */
  dir: string;
  /** Default chunk size for new volumes (power of two). */
  chunkSize?: number;
  logger?: EngineLogger;
}

export interface CreateVolumeOptions {
  sizeBytes: number;
  blockSize?: LogicalBlockSize;
  chunkSize?: number;
}

export interface SnapshotReader {
  readonly info: SnapshotInfo;
  readonly sizeBytes: number;
  readonly blockSize: LogicalBlockSize;
  /** Like VolumeHandle.read, `into` included. */
  read(offset: number, length: number, into?: Uint8Array): Promise<Buffer>;
  lbaStatus(offset: number, length: number): LbaStatusRange[];
}

export interface VolumeHandle {
  readonly info: VolumeInfo;
  /**
   * Cheap and synchronous: call it when a write of [offset, offset+length) is admitted, before its
   * data arrives. Throws EngineError "out-of-range" for a range past the end.
   */
  admit(offset: number, length: number): WriteTicket;
  /** Give up an admitted write that will never execute (aborted task, dropped connection). */
  cancel(ticket: WriteTicket): void;
  /**
   * Writes `data` (ticket.length bytes) at ticket.offset. Without `fua` it may resolve before the
   * data reaches the origin (write-back, WCE=1): reads still see it, flush() makes it durable and
   * reports a background failure. With `fua` it resolves once it and every write acknowledged
   * before it are durable. Once it settles the engine holds no reference to `data` (what a
   * write-back tail still needs, it copied): the caller may reuse the buffer.
   */
  write(ticket: WriteTicket, data: Uint8Array, opts?: { fua?: boolean }): Promise<void>;
  /**
   * WRITE ATOMIC: all or none of `data` (at most MAX_ATOMIC_WRITE_BYTES), for concurrent readers
   * and across a crash (the data is journalled). With `fua` it resolves once durable; without, as
   * a write-back write (flush() makes it durable; a crash may lose it whole, never tear it).
   * Throws "invalid-argument" for a wrong length or one over the maximum.
   */
  writeAtomic(ticket: WriteTicket, data: Uint8Array, opts?: { fua?: boolean }): Promise<void>;
  writeZeroes(ticket: WriteTicket, opts?: { unmap?: boolean }): Promise<void>;
  unmap(ticket: WriteTicket): Promise<void>;
  /** Atomic against every other write to the same bytes (COMPARE AND WRITE). */
  compareAndWrite(
    ticket: WriteTicket,
    expected: Uint8Array,
    data: Uint8Array,
  ): Promise<{ ok: true } | { ok: false; mismatchOffset: number }>;
  /**
   * Reads [offset, offset+length). With `into` (at least `length` bytes) the data lands there and
   * the result is a view of it, so a caller can recycle its buffers; without, a new buffer.
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Buffer>;
  /**
   * Every write acknowledged before the call is durable when it resolves. Rejects (io-error) if
   * an acknowledged write failed in the background since the last flush; reported once.
   */
  flush(): Promise<void>;
  resize(sizeBytes: number): Promise<void>;
  lbaStatus(offset: number, length: number): LbaStatusRange[];
  /** O(1), no drain, no pause. */
  createSnapshot(name: string): Promise<SnapshotInfo>;
  /** Oldest first. */
  listSnapshots(): SnapshotInfo[];
  getSnapshot(name: string): SnapshotReader;
  deleteSnapshot(name: string): Promise<void>;
  rollback(snapshot: string, onProgress?: (p: RollbackProgress) => void): Promise<void>;
  blockMap(query: BlockMapQuery): BlockMap;
  changedChunks(from: string, to?: string): ChangedChunks;
  stats(): VolumeStats;
}

export interface PoolHandle {
  readonly dir: string;
  readonly events: import("node:events").EventEmitter<PoolEvents>;
  listVolumes(): VolumeInfo[];
  createVolume(name: string, opts: CreateVolumeOptions): Promise<VolumeHandle>;
  deleteVolume(name: string): Promise<void>;
  /** Throws EngineError "not-found". */
  getVolume(name: string): VolumeHandle;
  /** One admission point across several volumes: a consistency group, still with no pause. */
  createGroupSnapshot(entries: { volume: string; snapshot: string }[]): Promise<SnapshotInfo[]>;
  /** Flushes and closes every image; further calls throw EngineError "closed". */
  close(): Promise<void>;
}

// Runtime exports of the package (implemented in the engine's own files):
//   openPool(opts: PoolOptions): Promise<PoolHandle>
//   class EngineError extends Error { code: EngineErrorCode }
