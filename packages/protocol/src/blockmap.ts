// Block maps on the wire: the engine's counts matrix (buckets × classes, u32) travels as base64 of
// little-endian u32s — 4 bytes per cell instead of a JSON array's ~6-11.
import { z } from "zod";
import { base64ToBytes, bytesToBase64 } from "./base64.js";
import { ByteCount } from "./model.js";

export const MAX_BUCKETS = 65536;

export const BlockMap = z
  .object({
    start: ByteCount,
    end: ByteCount,
    chunkSize: ByteCount,
    buckets: z.number().int().min(1).max(MAX_BUCKETS),
    /** "unallocated", "shared", optionally "written", then "preserved:<snapshot>". */
    classes: z.array(z.string()).min(1),
    /** base64 of buckets × classes.length little-endian u32, row-major by bucket. */
    counts: z.string(),
  })
  .superRefine((map, ctx) => {
    const expected = map.buckets * map.classes.length * 4;
    let actual: number;
    try {
      actual = base64ToBytes(map.counts).length;
    } catch (err) {
      ctx.addIssue({ code: "custom", path: ["counts"], message: (err as Error).message });
      return;
    }
    if (actual !== expected) {
      ctx.addIssue({
        code: "custom",
        path: ["counts"],
        message: `expected ${expected} bytes (buckets × classes × 4), got ${actual}`,
      });
    }
    if (map.end < map.start) ctx.addIssue({ code: "custom", path: ["end"], message: "end is before start" });
  });
export type BlockMap = z.infer<typeof BlockMap>;

/** The decoded form, shaped like the engine's BlockMap. */
export interface DecodedBlockMap {
  start: number;
  end: number;
  chunkSize: number;
  buckets: number;
  classes: string[];
  counts: Uint32Array;
}

export function encodeCounts(counts: Uint32Array): string {
  const bytes = new Uint8Array(counts.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < counts.length; i++) view.setUint32(i * 4, counts[i]!, true);
  return bytesToBase64(bytes);
}

export function decodeCounts(text: string): Uint32Array {
  const bytes = base64ToBytes(text);
  if (bytes.length % 4 !== 0) throw new Error("block map counts: length is not a multiple of 4");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const counts = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < counts.length; i++) counts[i] = view.getUint32(i * 4, true);
  return counts;
}

export function encodeBlockMap(map: DecodedBlockMap): BlockMap {
  return {
    start: map.start,
    end: map.end,
    chunkSize: map.chunkSize,
    buckets: map.buckets,
    classes: [...map.classes],
    counts: encodeCounts(map.counts),
  };
}

export function decodeBlockMap(map: BlockMap): DecodedBlockMap {
  return { ...map, classes: [...map.classes], counts: decodeCounts(map.counts) };
}

/** Count of class `cls` in bucket `bucket` (0 when the class is absent). */
export function bucketCount(map: DecodedBlockMap, bucket: number, cls: string): number {
  const column = map.classes.indexOf(cls);
  if (column < 0) return 0;
  return map.counts[bucket * map.classes.length + column] ?? 0;
}

/** Chunk runs [first chunk, count] — how block-map deltas carry a set of written chunks. */
export const ChunkRuns = z.array(z.tuple([ByteCount, z.number().int().min(1)]));
export type ChunkRuns = z.infer<typeof ChunkRuns>;

/** Sorted, merged runs from any chunk indexes (duplicates and order do not matter). */
export function chunksToRuns(chunks: Iterable<number>): ChunkRuns {
  const sorted = [...new Set(chunks)].sort((a, b) => a - b);
  const runs: ChunkRuns = [];
  for (const chunk of sorted) {
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === chunk) last[1]++;
    else runs.push([chunk, 1]);
  }
  return runs;
}

export function runsToChunks(runs: ChunkRuns): number[] {
  const chunks: number[] = [];
  for (const [first, count] of runs) for (let i = 0; i < count; i++) chunks.push(first + i);
  return chunks;
}
