// Writes lighting up as they land: chunk runs from `blockmap.delta` -> the visible cells they touch,
// each with a glow that fades out. Pure (time is passed in); the webview draws `glow()` over the map.
import { queryFor, type Viewport } from "./viewport.js";

export const GLOW_MS = 1500;

/** Visible cells touched by the runs (each cell once, ascending). */
export function cellsOfRuns(
  vp: Viewport,
  chunkSize: number,
  runs: readonly (readonly [number, number])[],
): number[] {
  const { buckets } = queryFor(vp);
  const cells = new Set<number>();
  for (const [first, count] of runs) {
    const from = first * chunkSize;
    const to = (first + count) * chunkSize; // exclusive
    if (to <= vp.start) continue;
    const a = Math.max(0, Math.floor((from - vp.start) / vp.bytesPerCell));
    const b = Math.min(buckets - 1, Math.floor((to - 1 - vp.start) / vp.bytesPerCell));
    for (let c = a; c <= b; c++) cells.add(c);
  }
  return [...cells].sort((x, y) => x - y);
}

/** Byte offsets of cells that glow, so the glow survives pans and zooms. */
export class LiveWrites {
  private readonly lit = new Map<number, number>(); // chunk index -> time lit

  /** Remembers the chunks (capped per delta: a huge run lights its first and last chunks' cells). */
  add(runs: readonly (readonly [number, number])[], now: number, maxChunksPerRun = 4096): void {
    for (const [first, count] of runs) {
      if (count <= maxChunksPerRun) for (let c = first; c < first + count; c++) this.lit.set(c, now);
      else {
        // Spread samples over the run so every cell it covers at coarse zoom still glows.
        const step = count / maxChunksPerRun;
        for (let i = 0; i < maxChunksPerRun; i++) this.lit.set(first + Math.floor(i * step), now);
        this.lit.set(first + count - 1, now);
      }
    }
  }

  /** Per visible cell: glow strength 0..1 (1 = just written). Drops expired chunks. */
  glow(vp: Viewport, chunkSize: number, now: number): Map<number, number> {
    const out = new Map<number, number>();
    const { buckets } = queryFor(vp);
    for (const [chunk, at] of this.lit) {
      const age = now - at;
      if (age >= GLOW_MS) {
        this.lit.delete(chunk);
        continue;
      }
      const offset = chunk * chunkSize;
      if (offset < vp.start) continue;
      const cell = Math.floor((offset - vp.start) / vp.bytesPerCell);
      if (cell >= buckets) continue;
      const strength = 1 - age / GLOW_MS;
      if ((out.get(cell) ?? 0) < strength) out.set(cell, strength);
    }
    return out;
  }

  get size(): number {
    return this.lit.size;
  }
}
