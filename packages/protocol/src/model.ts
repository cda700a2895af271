// The nouns of the management protocol: what volumes, snapshots, targets, sessions and statistics look
// like on the wire. Mirrors @livesnap/engine's api.ts and the target's TargetControl without importing
// them, so clients (CLI, VS Code, webviews) need neither.
import { z } from "zod";

/** Non-negative integer byte offset/length/count (exact in a JS number up to 2^53). */
export const ByteCount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
export const Timestamp = z.string().min(1);

/** Volume and snapshot names: safe in file names, iSCSI names and URLs. */
export const ObjectName = z
  .string()
  .min(1, "must not be empty")
  .max(64, "must be at most 64 characters")
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    "must start with a letter or digit and contain only A-Z a-z 0-9 . _ -",
  );

export const LogicalBlockSize = z.union([z.literal(512), z.literal(4096)]);

export const Volume = z.object({
  name: z.string(),
  id: z.string(),
  sizeBytes: ByteCount,
  blockSize: LogicalBlockSize,
  chunkSize: ByteCount,
  createdAt: Timestamp,
  snapshotCount: ByteCount,
  allocatedBytes: ByteCount,
});
export type Volume = z.infer<typeof Volume>;

export const Snapshot = z.object({
  name: z.string(),
  id: z.string(),
  volume: z.string(),
  createdAt: Timestamp,
  seq: ByteCount,
  preservedChunks: ByteCount,
  preservedBytes: ByteCount,
  valid: z.boolean(),
  invalidReason: z.string().optional(),
  group: z.string().optional(),
});
export type Snapshot = z.infer<typeof Snapshot>;

/** Snapshots taken together at one admission point across volumes. */
export const ConsistencyGroup = z.object({
  id: z.string(),
  snapshots: z.array(Snapshot),
});
export type ConsistencyGroup = z.infer<typeof ConsistencyGroup>;

export const Portal = z.object({ host: z.string(), port: z.number().int().min(0).max(65535) });
export type Portal = z.infer<typeof Portal>;

export const LunSource = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("volume"), volume: z.string() }),
  z.object({ kind: z.literal("snapshot"), volume: z.string(), snapshot: z.string() }),
]);
export type LunSource = z.infer<typeof LunSource>;

export const Lun = z.object({
  target: z.string(),
  lun: z.number().int().min(0).max(16383),
  source: LunSource,
  readOnly: z.boolean(),
  url: z.string(),
});
export type Lun = z.infer<typeof Lun>;

export const Target = z.object({
  iqn: z.string(),
  portals: z.array(Portal),
  luns: z.array(Lun),
});
export type Target = z.infer<typeof Target>;

export const Session = z.object({
  id: z.number().int(),
  target: z.string(),
  initiator: z.string(),
  isid: z.string(),
  remoteAddress: z.string(),
  connections: z.number().int().nonnegative(),
  loggedInAt: Timestamp,
  headerDigest: z.string(),
  dataDigest: z.string(),
});
export type Session = z.infer<typeof Session>;

export const ByteRange = z.object({ offset: ByteCount, length: ByteCount });
export type ByteRange = z.infer<typeof ByteRange>;

export const ChangedChunks = z.object({
  chunkSize: ByteCount,
  ranges: z.array(ByteRange),
});
export type ChangedChunks = z.infer<typeof ChangedChunks>;

/** Cumulative counters since the pool was opened. */
export const VolumeStats = z.object({
  reads: ByteCount,
  writes: ByteCount,
  bytesRead: ByteCount,
  bytesWritten: ByteCount,
  cowCopies: ByteCount,
  cowBytes: ByteCount,
  unmaps: ByteCount,
  flushes: ByteCount,
  /** Acknowledged (write-back) writes whose background completion failed; reported by the next flush. */
  writeBackErrors: ByteCount,
});
export type VolumeStats = z.infer<typeof VolumeStats>;

/** Per-second rates over the last sampling interval. */
export const VolumeRates = z.object({
  volume: z.string(),
  at: Timestamp,
  intervalMs: z.number().nonnegative(),
  readIops: z.number().nonnegative(),
  writeIops: z.number().nonnegative(),
  readBytesPerSec: z.number().nonnegative(),
  writeBytesPerSec: z.number().nonnegative(),
  cowCopiesPerSec: z.number().nonnegative(),
});
export type VolumeRates = z.infer<typeof VolumeRates>;

export const RollbackProgress = z.object({
  volume: z.string(),
  snapshot: z.string(),
  doneChunks: ByteCount,
  totalChunks: ByteCount,
  /** When the target sent this progress (events are throttled, latest wins). */
  at: Timestamp,
});
export type RollbackProgress = z.infer<typeof RollbackProgress>;
