// Bucket counts -> what each cell shows. A bucket folds many chunks; the cell takes the colour of
// the most telling class present (a single written chunk in a 1 GiB bucket must still light up)
// and an intensity from that class's share of the bucket. Hover shows the exact counts. Pure.

/** The server's folded block map: buckets x classes chunk counts, row-major by bucket. */
export interface BucketCounts {
  start: number;
  end: number;
  chunkSize: number;
  buckets: number;
  /** "unallocated", "shared", "written", "preserved:<snapshot>". */
  classes: readonly string[];
  counts: ArrayLike<number>;
}

export type ClassKind = "unallocated" | "shared" | "written" | "preserved" | "other";

export interface ClassInfo {
  name: string;
  kind: ClassKind;
  /** For "preserved": the snapshot whose image holds the chunk. */
  snapshot?: string;
  label: string;
}

export function parseClass(name: string): ClassInfo {
  if (name === "unallocated") return { name, kind: "unallocated", label: "Unallocated" };
  if (name === "shared") return { name, kind: "shared", label: "In origin (not preserved)" };
  if (name === "written") return { name, kind: "written", label: "Written since" };
  if (name.startsWith("preserved:")) {
    const snapshot = name.slice("preserved:".length);
    return { name, kind: "preserved", snapshot, label: `Preserved in ${snapshot}` };
  }
  return { name, kind: "other", label: name };
}

/**
 * Higher wins when a bucket holds several classes. The focused snapshot (the one the user picked)
 * outranks other snapshots so its preserved chunks stand out.
 */
export function classPriority(info: ClassInfo, focusSnapshot?: string): number {
  switch (info.kind) {
    case "written":
      return 100;
    case "preserved":
      return info.snapshot === focusSnapshot ? 90 : 80;
    case "shared":
      return 20;
    case "other":
      return 10;
    case "unallocated":
      return 0;
  }
}

export interface CellModel {
  /** Per bucket: index into `classes` of the class drawn, -1 for an empty bucket. */
  classOf: Int32Array;
  /** Per bucket: drawn class count / all chunks in the bucket, 0..1. */
  share: Float32Array;
  classes: ClassInfo[];
}

export function buildCellModel(map: BucketCounts, focusSnapshot?: string): CellModel {
  const classes = map.classes.map(parseClass);
  const width = classes.length;
  if (map.counts.length !== map.buckets * width) {
    throw new Error(
      `block map has ${map.counts.length} counts, expected ${map.buckets} buckets x ${width} classes`,
    );
  }
  const priority = classes.map((c) => classPriority(c, focusSnapshot));
  const classOf = new Int32Array(map.buckets).fill(-1);
  const share = new Float32Array(map.buckets);
  for (let b = 0; b < map.buckets; b++) {
    let best = -1;
    let total = 0;
    for (let c = 0; c < width; c++) {
      const n = map.counts[b * width + c] ?? 0;
      total += n;
      if (n > 0 && (best < 0 || (priority[c] ?? 0) > (priority[best] ?? 0))) best = c;
    }
    classOf[b] = best;
    share[b] = best < 0 || total === 0 ? 0 : (map.counts[b * width + best] ?? 0) / total;
  }
  return { classOf, share, classes };
}

/** Minimum opacity, so that one chunk among millions is still visible. */
export const MIN_ALPHA = 0.4;

export function alphaFor(share: number): number {
  return MIN_ALPHA + (1 - MIN_ALPHA) * Math.min(1, Math.max(0, share));
}

/** Number of distinct colours for non-focused snapshots (media/webview.css: --ls-preserved-0..n-1). */
export const PRESERVED_COLOURS = 4;

/**
 * CSS variable holding a class's colour. media/webview.css maps each to a VS Code theme colour
 * (charts palette), so the map follows the theme; the webview resolves them at draw time.
 */
export function colourVarFor(
  info: ClassInfo,
  snapshotOrder: readonly string[],
  focusSnapshot?: string,
): string {
  switch (info.kind) {
    case "written":
      return "--ls-written";
    case "shared":
      return "--ls-shared";
    case "unallocated":
      return "--ls-unallocated";
    case "other":
      return "--ls-other";
    case "preserved": {
      if (info.snapshot === focusSnapshot) return "--ls-preserved-focus";
      const i = Math.max(0, snapshotOrder.indexOf(info.snapshot ?? ""));
      return `--ls-preserved-${i % PRESERVED_COLOURS}`;
    }
  }
}

/** Where the data of a chunk of this class lives, for hover text. */
export function holderOf(info: ClassInfo): string {
  switch (info.kind) {
    case "unallocated":
      return "no image (reads as zeros)";
    case "shared":
      return "the origin image, shared with the view";
    case "written":
      return "the origin image (changed)";
    case "preserved":
      return `snapshot ${info.snapshot}'s COW image`;
    case "other":
      return "unknown";
  }
}

export interface BucketDetail {
  offset: number;
  length: number;
  firstChunk: number;
  chunkCount: number;
  /** Non-zero classes, largest first. */
  parts: { label: string; name: string; chunks: number; holder: string }[];
}

/**
 * Hover text source for one bucket. Buckets split [start, end) evenly in whole chunks, as the
 * engine folds them.
 */
export function bucketDetail(map: BucketCounts, bucket: number): BucketDetail {
  const width = map.classes.length;
  const parts: BucketDetail["parts"] = [];
  let chunkCount = 0;
  for (let c = 0; c < width; c++) {
    const n = map.counts[bucket * width + c] ?? 0;
    chunkCount += n;
    const name = map.classes[c] ?? "";
    if (n > 0) {
      const info = parseClass(name);
      parts.push({ name, label: info.label, chunks: n, holder: holderOf(info) });
    }
  }
  parts.sort((a, b) => b.chunks - a.chunks);
  const { offset, length } = bucketRange(map, bucket);
  return { offset, length, firstChunk: Math.floor(offset / map.chunkSize), chunkCount, parts };
}

export function bucketRange(map: BucketCounts, bucket: number): { offset: number; length: number } {
  const width = (map.end - map.start) / map.buckets;
  const offset = map.start + Math.floor(bucket * width);
  const end = bucket === map.buckets - 1 ? map.end : map.start + Math.floor((bucket + 1) * width);
  return { offset, length: end - offset };
}
