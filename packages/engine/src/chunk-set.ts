// A set of chunk indexes sized for 16 TiB volumes: regions of 4096 chunks, each a short list while
// sparse and a bitmap once dense, plus per-region counts, so range counts and block maps touch only
// populated regions instead of every chunk.
export const REGION_BITS = 12;
export const REGION_CHUNKS = 1 << REGION_BITS;
const REGION_WORDS = REGION_CHUNKS / 32;
const LIST_MAX = 32;

interface Region {
  count: number;
  /** Offsets within the region while sparse (unsorted). */
  list: number[] | null;
  bits: Uint32Array | null;
}

export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export class ChunkSet {
  private readonly regions = new Map<number, Region>();
  private total = 0;

  get size(): number {
    return this.total;
  }

  has(chunk: number): boolean {
    const r = this.regions.get(Math.floor(chunk / REGION_CHUNKS));
    if (!r) return false;
    const off = chunk % REGION_CHUNKS;
    if (r.bits) return ((r.bits[off >>> 5] as number) & (1 << (off & 31))) !== 0;
    return (r.list as number[]).includes(off);
  }

  add(chunk: number): boolean {
    const key = Math.floor(chunk / REGION_CHUNKS);
    const off = chunk % REGION_CHUNKS;
    let r = this.regions.get(key);
    if (!r) {
      r = { count: 0, list: [], bits: null };
      this.regions.set(key, r);
    }
    if (r.bits) {
      const w = off >>> 5;
      const m = 1 << (off & 31);
      const word = r.bits[w] as number;
      if (word & m) return false;
      r.bits[w] = word | m;
    } else {
      const list = r.list as number[];
      if (list.includes(off)) return false;
      if (list.length < LIST_MAX) list.push(off);
      else {
        const bits = new Uint32Array(REGION_WORDS);
        for (const o of list) bits[o >>> 5] = (bits[o >>> 5] as number) | (1 << (o & 31));
        bits[off >>> 5] = (bits[off >>> 5] as number) | (1 << (off & 31));
        r.bits = bits;
        r.list = null;
      }
    }
    r.count++;
    this.total++;
    return true;
  }

  delete(chunk: number): boolean {
    const key = Math.floor(chunk / REGION_CHUNKS);
    const r = this.regions.get(key);
    if (!r) return false;
    const off = chunk % REGION_CHUNKS;
    if (r.bits) {
      const w = off >>> 5;
      const m = 1 << (off & 31);
      const word = r.bits[w] as number;
      if (!(word & m)) return false;
      r.bits[w] = word & ~m;
    } else {
      const list = r.list as number[];
      const i = list.indexOf(off);
      if (i < 0) return false;
      list[i] = list[list.length - 1] as number;
      list.pop();
    }
    r.count--;
    this.total--;
    if (r.count === 0) this.regions.delete(key);
    return true;
  }

  /** Region keys holding at least one member (unsorted). */
  regionKeys(): IterableIterator<number> {
    return this.regions.keys();
  }

  /** Writes the region's membership as a bitmap into `out` (REGION_WORDS words); false if empty. */
  regionWords(key: number, out: Uint32Array): boolean {
    const r = this.regions.get(key);
    out.fill(0);
    if (!r) return false;
    if (r.bits) out.set(r.bits);
    else for (const o of r.list as number[]) out[o >>> 5] = (out[o >>> 5] as number) | (1 << (o & 31));
    return true;
  }

  /** Members in [lo, hi). Cost: populated regions overlapping the range. */
  countRange(lo: number, hi: number): number {
    if (hi <= lo) return 0;
    const firstKey = Math.floor(lo / REGION_CHUNKS);
    const lastKey = Math.floor((hi - 1) / REGION_CHUNKS);
    let n = 0;
    const visit = (key: number, r: Region): void => {
      const base = key * REGION_CHUNKS;
      if (base >= lo && base + REGION_CHUNKS <= hi) {
        n += r.count;
        return;
      }
      const from = Math.max(lo, base) - base;
      const to = Math.min(hi, base + REGION_CHUNKS) - base;
      if (r.bits) {
        for (let o = from; o < to; o++) if ((r.bits[o >>> 5] as number) & (1 << (o & 31))) n++;
      } else for (const o of r.list as number[]) if (o >= from && o < to) n++;
    };
    if (lastKey - firstKey + 1 < this.regions.size) {
      for (let key = firstKey; key <= lastKey; key++) {
        const r = this.regions.get(key);
        if (r) visit(key, r);
      }
    } else {
      for (const [key, r] of this.regions) if (key >= firstKey && key <= lastKey) visit(key, r);
    }
    return n;
  }

  /** Members in ascending order. */
  *sorted(): IterableIterator<number> {
    const keys = [...this.regions.keys()].sort((a, b) => a - b);
    for (const key of keys) {
      const r = this.regions.get(key) as Region;
      const base = key * REGION_CHUNKS;
      if (r.bits) {
        for (let w = 0; w < REGION_WORDS; w++) {
          let word = r.bits[w] as number;
          while (word !== 0) {
            const bit = 31 - Math.clz32(word & -word);
            yield base + w * 32 + bit;
            word &= word - 1;
          }
        }
      } else for (const o of [...(r.list as number[])].sort((a, b) => a - b)) yield base + o;
    }
  }

  /** Members in [lo, hi), ascending. Cost: populated regions overlapping the range. */
  *membersInRange(lo: number, hi: number): IterableIterator<number> {
    if (hi <= lo) return;
    const firstKey = Math.floor(lo / REGION_CHUNKS);
    const lastKey = Math.floor((hi - 1) / REGION_CHUNKS);
    const keys =
      lastKey - firstKey + 1 < this.regions.size
        ? Array.from({ length: lastKey - firstKey + 1 }, (_, i) => firstKey + i).filter((k) =>
            this.regions.has(k),
          )
        : [...this.regions.keys()].filter((k) => k >= firstKey && k <= lastKey).sort((a, b) => a - b);
    for (const key of keys) {
      const r = this.regions.get(key) as Region;
      const base = key * REGION_CHUNKS;
      const members = r.bits
        ? (function* (bits: Uint32Array) {
            for (let w = 0; w < REGION_WORDS; w++) {
              let word = bits[w] as number;
              while (word !== 0) {
                const bit = 31 - Math.clz32(word & -word);
                yield w * 32 + bit;
                word &= word - 1;
              }
            }
          })(r.bits)
        : [...(r.list as number[])].sort((a, b) => a - b);
      for (const o of members) {
        const c = base + o;
        if (c >= lo && c < hi) yield c;
      }
    }
  }

  /** Adds every member of `other` (used when a deleted snapshot hands its table down). */
  addAll(other: ChunkSet): void {
    for (const c of other.sorted()) this.add(c);
  }

  clear(): void {
    this.regions.clear();
    this.total = 0;
  }
}

export { REGION_WORDS };

/** Ascending numbers (chunks, slots) as [lo, hi) runs of adjacent ones. */
export function* adjacentRuns(sorted: readonly number[]): IterableIterator<[number, number]> {
  let i = 0;
  while (i < sorted.length) {
    const lo = sorted[i] as number;
    let hi = lo + 1;
    while (++i < sorted.length && sorted[i] === hi) hi++;
    yield [lo, hi];
  }
}
