import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  cellAt,
  cellOfOffset,
  cellRange,
  centreOn,
  clampStart,
  fitAll,
  gridFor,
  MAX_CELLS,
  maxBytesPerCell,
  panCells,
  panRows,
  queryFor,
  resize,
  type Viewport,
  zoomAt,
} from "../src/webview/viewport.js";

const TiB = 2 ** 40;
const MiB = 2 ** 20;
const KiB = 1024;

const arbViewport = fc
  .record({
    chunkShift: fc.integer({ min: 12, max: 26 }),
    chunks: fc.integer({ min: 1, max: 2 ** 30 }),
    cols: fc.integer({ min: 1, max: 300 }),
    rows: fc.integer({ min: 1, max: 200 }),
    zoom: fc.integer({ min: 0, max: 40 }),
    startFrac: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ chunkShift, chunks, cols, rows, zoom, startFrac }) => {
    const chunkSize = 2 ** chunkShift;
    // Sizes stay below 2^52 bytes (4 PiB): byte counts on the wire are exact JS integers.
    const volumeChunks = 1 + ((chunks - 1) % Math.floor(2 ** 52 / chunkSize));
    const fit = fitAll(volumeChunks * chunkSize, chunkSize, cols, rows);
    let vp: Viewport = fit;
    for (let i = 0; i < zoom; i++) vp = zoomAt(vp, 2, 0);
    return { ...vp, start: clampStart(vp, Math.floor(startFrac * vp.volumeSize)) };
  });

describe("viewport", () => {
  it("fits a 16 TiB volume into the grid in one query of at most MAX_CELLS buckets", () => {
    const { cols, rows } = gridFor(1400, 800, 8);
    const vp = fitAll(16 * TiB, 64 * KiB, cols, rows);
    const q = queryFor(vp);
    expect(q).toMatchObject({ start: 0, end: 16 * TiB });
    expect(q.buckets).toBeLessThanOrEqual(cols * rows);
    expect(q.buckets).toBeLessThanOrEqual(MAX_CELLS);
    expect(vp.bytesPerCell % (64 * KiB)).toBe(0);
    expect(q.buckets * vp.bytesPerCell).toBeGreaterThanOrEqual(16 * TiB);
  });

  it("never asks for more than MAX_CELLS buckets, whatever the canvas size", () => {
    const { cols, rows } = gridFor(10_000, 10_000, 3);
    expect(cols * rows).toBeLessThanOrEqual(MAX_CELLS);
    expect(queryFor(fitAll(TiB, 4096, cols, rows)).buckets).toBeLessThanOrEqual(MAX_CELLS);
  });

  it("zooms in down to one chunk per cell and back out to the whole volume", () => {
    let vp = fitAll(16 * TiB, 64 * KiB, 100, 50);
    for (let i = 0; i < 64; i++) vp = zoomAt(vp, 2, 0);
    expect(vp.bytesPerCell).toBe(64 * KiB);
    for (let i = 0; i < 64; i++) vp = zoomAt(vp, 0.5, 0);
    expect(vp).toEqual(fitAll(16 * TiB, 64 * KiB, 100, 50));
  });

  it("keeps the byte under the pointer under the pointer when zooming", () => {
    const vp = fitAll(1024 * MiB, 64 * KiB, 64, 64); // 4096 cells, 256 KiB each
    const anchor = 1000;
    const before = vp.start + anchor * vp.bytesPerCell;
    const z = zoomAt(vp, 2, anchor);
    expect(z.bytesPerCell).toBe(vp.bytesPerCell / 2);
    expect(z.start + anchor * z.bytesPerCell).toBe(before);
  });

  it("pans by rows and cells and clamps at both ends", () => {
    const vp = zoomAt(fitAll(1024 * MiB, 64 * KiB, 10, 10), 8, 0);
    expect(panRows(vp, -5).start).toBe(0);
    const down = panRows(vp, 3);
    expect(down.start).toBe(30 * vp.bytesPerCell);
    const far = panCells(vp, 1e12);
    const q = queryFor(far);
    expect(q.end).toBe(vp.volumeSize);
    // the last byte sits in the last row, never above it
    const lastCell = cellOfOffset(far, vp.volumeSize - 1);
    expect(lastCell).toBeGreaterThanOrEqual(far.cols * (far.rows - 1));
  });

  it("maps pixels to cells and cells to byte ranges", () => {
    const vp = zoomAt(fitAll(64 * MiB, 64 * KiB, 10, 10), 2, 0);
    expect(cellAt(vp, 0, 0, 8)).toBe(0);
    expect(cellAt(vp, 17, 9, 8)).toBe(12);
    expect(cellAt(vp, 80, 0, 8)).toBeUndefined();
    expect(cellAt(vp, -1, 0, 8)).toBeUndefined();
    expect(cellRange(vp, 12)).toEqual({ offset: vp.start + 12 * vp.bytesPerCell, length: vp.bytesPerCell });
    expect(centreOn(vp, 32 * MiB).start).toBeLessThanOrEqual(32 * MiB);
  });

  it("keeps the top-left byte and zoom on resize", () => {
    const vp = panRows(zoomAt(fitAll(TiB, 64 * KiB, 100, 100), 16, 0), 10);
    const r = resize(vp, 120, 90);
    expect(r.start).toBe(vp.start);
    expect(r.bytesPerCell).toBe(vp.bytesPerCell);
  });

  it("property: the query covers exactly the visible cells and stays inside the volume", () => {
    fc.assert(
      fc.property(arbViewport, (vp) => {
        const q = queryFor(vp);
        expect(q.start).toBeGreaterThanOrEqual(0);
        expect(q.end).toBeLessThanOrEqual(vp.volumeSize);
        expect(q.start).toBeLessThan(q.end);
        expect(q.buckets).toBeGreaterThanOrEqual(1);
        expect(q.buckets).toBeLessThanOrEqual(Math.min(MAX_CELLS, vp.cols * vp.rows));
        expect(Math.ceil((q.end - q.start) / vp.bytesPerCell)).toBe(q.buckets);
        expect(vp.start % vp.chunkSize).toBe(0);
        expect(vp.bytesPerCell % vp.chunkSize).toBe(0);
      }),
    );
  });

  it("property: every byte offset in view maps to the cell whose range contains it", () => {
    fc.assert(
      fc.property(arbViewport, fc.double({ min: 0, max: 1, noNaN: true }), (vp, frac) => {
        const q = queryFor(vp);
        const offset = q.start + Math.floor(frac * (q.end - q.start - 1));
        const cell = cellOfOffset(vp, offset);
        expect(cell).toBeDefined();
        const r = cellRange(vp, cell!);
        expect(offset).toBeGreaterThanOrEqual(r.offset);
        expect(offset).toBeLessThan(r.offset + r.length);
      }),
    );
  });

  it("property: zooming in then out around the same cell returns to the same zoom", () => {
    fc.assert(
      fc.property(arbViewport, fc.integer({ min: 0, max: 1000 }), (vp, a) => {
        const anchor = a % Math.max(1, queryFor(vp).buckets);
        const inOut = zoomAt(zoomAt(vp, 2, anchor), 0.5, anchor);
        const zoomIn = zoomAt(vp, 2, anchor);
        const chunks = vp.bytesPerCell / vp.chunkSize;
        const max = maxBytesPerCell(vp.volumeSize, vp.chunkSize, Math.min(MAX_CELLS, vp.cols * vp.rows));
        // Levels are powers of two chunks per cell; only the whole-volume fit is exact instead.
        if (zoomIn.bytesPerCell !== vp.bytesPerCell) {
          expect(Number.isInteger(Math.log2(zoomIn.bytesPerCell / vp.chunkSize))).toBe(true);
          expect(zoomIn.bytesPerCell).toBeLessThan(vp.bytesPerCell);
        }
        if (chunks > 1 && Number.isInteger(Math.log2(chunks)) && 2 * vp.bytesPerCell <= max) {
          expect(inOut.bytesPerCell).toBe(vp.bytesPerCell);
        }
      }),
    );
  });
});
