// Finds the held or queued chunk ranges that overlap a range, without scanning all of them. With
// write-back tails a busy volume has hundreds of active requests (256 tails plus every
// initiator's queue depth), and a lock check that scanned them all paid for each one.
// Up to 32 ranges sit in one list that queries scan (the common case, and the cheapest). Beyond
// that they are filed in buckets of 16 chunks; a range spanning more than 64 buckets (4 MiB at
// 4 KiB chunks: large UNMAPs, WRITE SAMEs) is kept in a short list that every query scans instead.

export interface ChunkRange {
  readonly lo: number;
  /** Exclusive. */
  readonly hi: number;
}

const BUCKET_CHUNKS = 16;
const MAX_BUCKETS_PER_RANGE = 64;
/** More ranges than this: filed in buckets. This many or fewer again: back to one list. */
const LIST_MAX = 32;
const LIST_MIN = 8;

// Division, not a shift: chunk numbers pass 2^31 (16 TiB of 4 KiB chunks is 2^32).
const bucketOf = (chunk: number): number => Math.floor(chunk / BUCKET_CHUNKS);

const overlaps = (a: ChunkRange, lo: number, hi: number): boolean => a.lo < hi && lo < a.hi;
const isWide = (r: ChunkRange): boolean =>
  r.hi > r.lo && bucketOf(r.hi - 1) - bucketOf(r.lo) >= MAX_BUCKETS_PER_RANGE;

export class RangeIndex<T extends ChunkRange> {
  /** Few ranges (an idle volume, a shallow queue): one list, scanned; cheaper than buckets. */
  private list: T[] | null = [];
  /** Tests shrink the switch-over points to reach the bucket mode with a handful of ranges. */
  constructor(
    private readonly listMax = LIST_MAX,
    private readonly listMin = LIST_MIN,
  ) {}
  private readonly buckets = new Map<number, T[]>();
  private readonly wide: T[] = [];
  private count = 0;

  /** Ranges held (empty ones overlap nothing and are not kept). */
  get size(): number {
    return this.count;
  }

  add(r: T): void {
    if (r.hi <= r.lo) return;
    this.count++;
    if (!this.list) {
      this.file(r);
      return;
    }
    this.list.push(r);
    if (this.list.length > this.listMax) {
      const all = this.list;
      this.list = null;
      for (const x of all) this.file(x);
    }
  }

  /** `r` must be held. */
  delete(r: T): void {
    if (r.hi <= r.lo) return;
    this.count--;
    if (this.list) {
      removeFrom(this.list, r);
      return;
    }
    this.unfile(r);
    // Back to one list well below the switch-over point, so add/delete pairs cannot flap.
    if (this.count <= this.listMin) this.list = this.unfileAll();
  }

  /**
   * A range overlapping [lo, hi) that satisfies `pred(range, arg)`, or undefined. `arg` spares
   * the callers a closure per call on the I/O path.
   */
  find<A>(lo: number, hi: number, pred: (r: T, arg: A) => boolean, arg: A): T | undefined {
    if (hi <= lo || this.count === 0) return undefined;
    if (this.list) {
      for (const r of this.list) if (overlaps(r, lo, hi) && pred(r, arg)) return r;
      return undefined;
    }
    for (const r of this.wide) if (overlaps(r, lo, hi) && pred(r, arg)) return r;
    const first = bucketOf(lo);
    const last = bucketOf(hi - 1);
    if (last - first + 1 > this.buckets.size) {
      // A query wider than the filed buckets: walk the buckets that exist instead of its own.
      for (const [b, list] of this.buckets) {
        const r = b >= first && b <= last ? findIn(list, b, lo, hi, pred, arg) : undefined;
        if (r) return r;
      }
      return undefined;
    }
    for (let b = first; b <= last; b++) {
      const list = this.buckets.get(b);
      const r = list ? findIn(list, b, lo, hi, pred, arg) : undefined;
      if (r) return r;
    }
    return undefined;
  }

  /** Every range overlapping [lo, hi), each once, in no particular order. */
  overlapping(lo: number, hi: number): T[] {
    const out: T[] = [];
    this.find(lo, hi, collect, out);
    return out;
  }

  /** Every range held. */
  values(): T[] {
    if (this.list) return [...this.list];
    const all = [...this.wide];
    for (const [b, list] of this.buckets) for (const r of list) if (bucketOf(r.lo) === b) all.push(r);
    return all;
  }

  private file(r: T): void {
    if (isWide(r)) {
      this.wide.push(r);
      return;
    }
    for (let b = bucketOf(r.lo), last = bucketOf(r.hi - 1); b <= last; b++) {
      const list = this.buckets.get(b);
      if (list) list.push(r);
      else this.buckets.set(b, [r]);
    }
  }

  private unfile(r: T): void {
    if (isWide(r)) {
      removeFrom(this.wide, r);
      return;
    }
    for (let b = bucketOf(r.lo), last = bucketOf(r.hi - 1); b <= last; b++) {
      const list = this.buckets.get(b);
      if (!list) continue;
      removeFrom(list, r);
      if (list.length === 0) this.buckets.delete(b);
    }
  }

  /** Empties the buckets and the wide list; returns every range they held, each once. */
  private unfileAll(): T[] {
    const all = this.values();
    this.wide.length = 0;
    this.buckets.clear();
    return all;
  }
}

const firstSharedBucket = (r: ChunkRange, lo: number): number => bucketOf(Math.max(r.lo, lo));

/** In bucket b's list: a range overlapping [lo, hi) that passes, visiting a range filed in several
 * buckets only in the first one the query shares. */
function findIn<T extends ChunkRange, A>(
  list: T[],
  b: number,
  lo: number,
  hi: number,
  pred: (r: T, arg: A) => boolean,
  arg: A,
): T | undefined {
  for (const r of list) if (firstSharedBucket(r, lo) === b && overlaps(r, lo, hi) && pred(r, arg)) return r;
  return undefined;
}

function collect<T>(r: T, out: T[]): boolean {
  out.push(r);
  return false;
}

/** Order within a list does not matter: the last element fills the hole (no splice garbage). */
function removeFrom<T>(list: T[], x: T): void {
  const i = list.lastIndexOf(x);
  if (i < 0) return;
  const last = list.pop() as T;
  if (i < list.length) list[i] = last;
}
