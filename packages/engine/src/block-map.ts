// Zoomable block maps for the inspection panel. Each chunk of the range gets exactly one class,
// by priority: "written" (changed since `since`), then "preserved:<snapshot>" (the image the view
// reads it from), then "shared" (origin data), else "unallocated". Work is proportional to the
// populated regions of the chunk sets involved, never to the volume size: an empty 16 TiB
// volume answers as fast as an empty 1 GiB one.
import type { BlockMap, BlockMapQuery } from "./api.js";
import { type ChunkSet, popcount32, REGION_CHUNKS, REGION_WORDS } from "./chunk-set.js";
import { EngineError } from "./errors.js";
import type { SnapshotState, VolumeState } from "./pool-state.js";

export function buildBlockMap(
  vs: VolumeState,
  view: SnapshotState | null,
  since: SnapshotState | null,
  query: BlockMapQuery,
  /** Copies acknowledged but not yet in their snapshot's table, per snapshot: shown as preserved. */
  unstored: ReadonlyMap<SnapshotState, ChunkSet> = new Map(),
  /** Chunks in since's tables that hold since's content again (a rollback restored them): not written. */
  unchanged?: ChunkSet,
): BlockMap {
  const cs = vs.meta.chunkSize;
  const size = view ? view.meta.sizeBytes : vs.meta.sizeBytes;
  const start = query.start ?? 0;
  const end = query.end ?? size;
  const buckets = query.buckets;
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > 65536) {
    throw new EngineError("invalid-argument", "buckets must be an integer in 1..65536");
  }
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end <= start) {
    throw new EngineError("invalid-argument", "need 0 <= start < end");
  }
  if (end > size) throw new EngineError("out-of-range", `end is past ${size}`);

  const lo = Math.floor(start / cs);
  const hi = Math.ceil(end / cs);
  const n = hi - lo;
  const viewIndex = view ? vs.snapshots.indexOf(view) : vs.snapshots.length;

  const classes = ["unallocated", "shared"];
  /** Sets in priority order with their class column. */
  const layers: { set: ChunkSet; column: number; except?: ChunkSet }[] = [];
  if (since) {
    classes.push("written");
    const column = classes.length - 1;
    const except = unchanged && unchanged.size > 0 ? unchanged : undefined;
    for (let i = vs.snapshots.indexOf(since); i < viewIndex; i++) {
      const s = vs.snapshots[i] as SnapshotState;
      layers.push({ set: s.chunks, column, ...(except ? { except } : {}) });
      const extra = unstored.get(s);
      if (extra) layers.push({ set: extra, column, ...(except ? { except } : {}) });
    }
  }
  // A snapshot view reads its own image first, then newer ones; the live volume attributes a
  // diverged chunk to the newest image holding a copy.
  const chain = view ? vs.snapshots.slice(viewIndex) : [...vs.snapshots].reverse();
  for (const s of chain) {
    classes.push(`preserved:${s.meta.name}`);
    layers.push({ set: s.chunks, column: classes.length - 1 });
    const extra = unstored.get(s);
    if (extra) layers.push({ set: extra, column: classes.length - 1 });
  }
  layers.push({ set: vs.mapped, column: 1 });

  const width = classes.length;
  const counts = new Uint32Array(buckets * width);
  const bucketOf = (x: number): number => Math.floor((x * buckets) / n);

  const regions = new Set<number>();
  const firstRegion = Math.floor(lo / REGION_CHUNKS);
  const lastRegion = Math.floor((hi - 1) / REGION_CHUNKS);
  for (const { set } of layers) {
    for (const key of set.regionKeys()) if (key >= firstRegion && key <= lastRegion) regions.add(key);
  }
  const words = new Uint32Array(REGION_WORDS);
  const excluded = new Uint32Array(REGION_WORDS);
  const claimed = new Uint32Array(REGION_WORDS);
  for (const key of regions) {
    claimed.fill(0);
    const base = key * REGION_CHUNKS;
    for (const { set, column, except } of layers) {
      if (!set.regionWords(key, words)) continue;
      if (!except?.regionWords(key, excluded)) excluded.fill(0);
      for (let w = 0; w < REGION_WORDS; w++) {
        const m = ((words[w] as number) & ~(claimed[w] as number) & ~(excluded[w] as number)) >>> 0;
        if (m === 0) continue;
        claimed[w] = ((claimed[w] as number) | m) >>> 0;
        const c0 = base + w * 32;
        const x0 = c0 - lo;
        if (c0 >= lo && c0 + 32 <= hi && bucketOf(x0) === bucketOf(x0 + 31)) {
          const at = bucketOf(x0) * width + column;
          counts[at] = (counts[at] as number) + popcount32(m);
          continue;
        }
        for (let bit = 0; bit < 32; bit++) {
          if (!(m & (1 << bit))) continue;
          const c = c0 + bit;
          if (c < lo || c >= hi) continue;
          const at = bucketOf(c - lo) * width + column;
          counts[at] = (counts[at] as number) + 1;
        }
      }
    }
  }
  // Unallocated: whatever no layer claimed.
  for (let b = 0; b < buckets; b++) {
    const first = Math.ceil((b * n) / buckets);
    const last = Math.ceil(((b + 1) * n) / buckets);
    let used = 0;
    for (let k = 1; k < width; k++) used += counts[b * width + k] as number;
    counts[b * width] = last - first - used;
  }
  return { start, end, chunkSize: cs, buckets, classes, counts };
}
