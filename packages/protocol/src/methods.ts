// The method table: every request the management API answers, declared once. The server's dispatcher
// and the typed client are both derived from it (see dispatcher.ts, client.ts).
import { z } from "zod";
import { BlockMap, MAX_BUCKETS } from "./blockmap.js";
import { EventName } from "./events.js";
import {
  ByteCount,
  ChangedChunks,
  LogicalBlockSize,
  Lun,
  ObjectName,
  Session,
  Snapshot,
  Target,
  Volume,
  VolumeStats,
} from "./model.js";

const Empty = z.strictObject({});
const Ok = z.object({});

/** Chunk size: a power of two from 4 KiB to 64 MiB. */
const ChunkSize = z
  .number()
  .int()
  .min(4096)
  .max(64 * 1024 * 1024)
  .refine((n) => (n & (n - 1)) === 0, "must be a power of two");

export const methods = {
  /** First call of a session: version check and capabilities. */
  hello: {
    params: z.strictObject({
      protocolVersion: z.number().int().positive(),
      client: z.string().max(200).optional(),
    }),
    result: z.object({
      protocolVersion: z.number().int(),
      serverVersion: z.string(),
      methods: z.array(z.string()),
      events: z.array(z.string()),
    }),
  },
  /** WebSocket only: authenticates a connection opened without an Authorization header. */
  auth: {
    params: z.strictObject({ token: z.string().min(1) }),
    result: Ok,
  },
  "events.subscribe": {
    params: z.strictObject({
      /** Omitted = every event. */
      events: z.array(EventName).optional(),
      /** Omitted = every volume. */
      volumes: z.array(z.string()).optional(),
    }),
    result: z.object({ events: z.array(EventName) }),
  },
  "events.unsubscribe": { params: Empty, result: Ok },

  "target.list": { params: Empty, result: z.object({ targets: z.array(Target) }) },
  "session.list": { params: Empty, result: z.object({ sessions: z.array(Session) }) },

  "volume.list": { params: Empty, result: z.object({ volumes: z.array(Volume) }) },
  "volume.get": { params: z.strictObject({ volume: ObjectName }), result: z.object({ volume: Volume }) },
  "volume.create": {
    params: z.strictObject({
      name: ObjectName,
      sizeBytes: ByteCount.min(1),
      blockSize: LogicalBlockSize.optional(),
      chunkSize: ChunkSize.optional(),
    }),
    result: z.object({ volume: Volume }),
  },
  "volume.delete": { params: z.strictObject({ volume: ObjectName }), result: Ok },
  "volume.resize": {
    params: z.strictObject({ volume: ObjectName, sizeBytes: ByteCount.min(1) }),
    result: z.object({ volume: Volume }),
  },

  "snapshot.create": {
    params: z.strictObject({ volume: ObjectName, name: ObjectName }),
    result: z.object({ snapshot: Snapshot }),
  },
  "snapshot.list": {
    params: z.strictObject({ volume: ObjectName }),
    result: z.object({ snapshots: z.array(Snapshot) }),
  },
  "snapshot.delete": { params: z.strictObject({ volume: ObjectName, snapshot: ObjectName }), result: Ok },
  /** Resolves when the rollback is complete; progress arrives as `rollback.progress` events. */
  "snapshot.rollback": {
    params: z.strictObject({ volume: ObjectName, snapshot: ObjectName }),
    result: z.object({ volume: Volume }),
  },
  /** Expose a snapshot as a read-only LUN of its volume's target. */
  "snapshot.expose": {
    params: z.strictObject({
      volume: ObjectName,
      snapshot: ObjectName,
      lun: z.number().int().min(1).max(16383).optional(),
    }),
    result: z.object({ lun: Lun }),
  },
  "lun.withdraw": {
    params: z.strictObject({ target: z.string().min(1), lun: z.number().int().min(0).max(16383) }),
    result: Ok,
  },
  /** Several volumes at one admission point (a consistency group). */
  "group.snapshot": {
    params: z.strictObject({
      entries: z
        .array(z.strictObject({ volume: ObjectName, snapshot: ObjectName }))
        .min(1, "needs at least one volume")
        .refine(
          (entries) => new Set(entries.map((e) => e.volume)).size === entries.length,
          "a volume appears twice",
        ),
    }),
    result: z.object({ group: z.string().optional(), snapshots: z.array(Snapshot) }),
  },

  "blockmap.get": {
    params: z
      .strictObject({
        volume: ObjectName,
        /** Snapshot to view; omitted = the live volume. */
        snapshot: ObjectName.optional(),
        start: ByteCount.optional(),
        end: ByteCount.optional(),
        buckets: z.number().int().min(1).max(MAX_BUCKETS),
        /** Mark chunks written since this snapshot as "written". */
        since: ObjectName.optional(),
      })
      .refine((p) => p.start === undefined || p.end === undefined || p.start < p.end, {
        message: "end must be greater than start",
        path: ["end"],
      }),
    result: BlockMap,
  },
  /** Chunks that differ between snapshot `from` and snapshot `to` (omitted = the live volume). */
  "chunks.changed": {
    params: z.strictObject({ volume: ObjectName, from: ObjectName, to: ObjectName.optional() }),
    result: ChangedChunks,
  },
  "stats.get": {
    params: z.strictObject({ volume: ObjectName.optional() }),
    result: z.object({ volumes: z.array(z.object({ volume: z.string(), stats: VolumeStats })) }),
  },
} as const;

export type Methods = typeof methods;
export type MethodName = keyof Methods;
/** What a caller passes (defaults not yet applied). */
export type MethodParams<M extends MethodName> = z.input<Methods[M]["params"]>;
/** What a handler receives (validated). */
export type ValidParams<M extends MethodName> = z.output<Methods[M]["params"]>;
export type MethodResult<M extends MethodName> = z.output<Methods[M]["result"]>;

export const methodNames = Object.keys(methods) as MethodName[];

export function isMethodName(name: string): name is MethodName {
  return Object.hasOwn(methods, name);
}
