// Zoom/pan math of the block map. The map is the volume's byte range laid out row-major on a grid
// of equal cells; one cell = `bytesPerCell` bytes = one server bucket. Zooming changes bytesPerCell
// (always a whole number of chunks), panning moves `start`. Pure: no DOM, unit-tested.

/** The server folds at most this many buckets per query (engine BlockMapQuery limit). */
export const MAX_CELLS = 65_536;

export interface Viewport {
  readonly volumeSize: number;
  readonly chunkSize: number;
  readonly cols: number;
  readonly rows: number;
  /** Bytes one cell stands for: a multiple of chunkSize, at least one chunk. */
  readonly bytesPerCell: number;
  /** Byte offset of the top-left cell: a multiple of chunkSize. */
  readonly start: number;
}

export interface RangeQuery {
  start: number;
  end: number;
  buckets: number;
}

export function cellCount(vp: Pick<Viewport, "cols" | "rows">): number {
  return Math.min(MAX_CELLS, vp.cols * vp.rows);
}

function roundUpToChunk(bytes: number, chunkSize: number): number {
  return Math.max(chunkSize, Math.ceil(bytes / chunkSize) * chunkSize);
}

function alignDown(bytes: number, chunkSize: number): number {
  return Math.floor(bytes / chunkSize) * chunkSize;
}

/** Coarsest useful zoom: the whole volume fits the grid. */
export function maxBytesPerCell(volumeSize: number, chunkSize: number, cells: number): number {
  return roundUpToChunk(volumeSize / Math.max(1, cells), chunkSize);
}

/** Grid size for a canvas of the given CSS size and cell size (at least one cell, at most MAX_CELLS). */
export function gridFor(widthPx: number, heightPx: number, cellPx: number): { cols: number; rows: number } {
  const cols = Math.max(1, Math.floor(widthPx / cellPx));
  const rows = Math.max(1, Math.min(Math.floor(heightPx / cellPx), Math.floor(MAX_CELLS / cols)));
  return { cols, rows };
}

export function fitAll(volumeSize: number, chunkSize: number, cols: number, rows: number): Viewport {
  const cells = cellCount({ cols, rows });
  return {
    volumeSize,
    chunkSize,
    cols,
    rows,
    bytesPerCell: maxBytesPerCell(volumeSize, chunkSize, cells),
    start: 0,
  };
}

/** Keeps start inside the volume: the last byte may not scroll above the last row. */
export function clampStart(vp: Viewport, start: number): number {
  const cells = cellCount(vp);
  // Everything visible from 0: no scrolling. Otherwise scroll until the last byte is in the last row.
  const maxStart =
    cells * vp.bytesPerCell >= vp.volumeSize
      ? 0
      : Math.max(0, vp.volumeSize - (cells - vp.cols + 1) * vp.bytesPerCell);
  const clamped = Math.min(Math.max(0, start), maxStart);
  return alignDown(clamped, vp.chunkSize);
}

/** Re-grids after a resize, keeping the top-left byte and the zoom where possible. */
export function resize(vp: Viewport, cols: number, rows: number): Viewport {
  const cells = cellCount({ cols, rows });
  const bytesPerCell = Math.min(vp.bytesPerCell, maxBytesPerCell(vp.volumeSize, vp.chunkSize, cells));
  const next = { ...vp, cols, rows, bytesPerCell };
  return { ...next, start: clampStart(next, vp.start) };
}

/**
 * Next zoom level: a power-of-two number of chunks per cell (readable "1 cell = 256 chunks" and
 * cell boundaries that stay aligned across levels), except the whole-volume fit, which is exact.
 */
export function zoomStep(bytesPerCell: number, factor: number, chunkSize: number): number {
  const chunks = bytesPerCell / chunkSize / factor;
  if (chunks <= 1) return chunkSize;
  const exp = Math.log2(chunks);
  // Rounding towards the current level would make a step that does not move.
  const k = factor > 1 ? Math.floor(exp + 1e-9) : Math.ceil(exp - 1e-9);
  return chunkSize * 2 ** k;
}

/**
 * Zooms by `factor` (>1 = in) around the cell at `anchorCell`, so the byte under the pointer stays
 * under the pointer.
 */
export function zoomAt(vp: Viewport, factor: number, anchorCell: number): Viewport {
  const cells = cellCount(vp);
  const anchor = Math.min(Math.max(0, Math.floor(anchorCell)), cells - 1);
  const anchorByte = vp.start + anchor * vp.bytesPerCell;
  const max = maxBytesPerCell(vp.volumeSize, vp.chunkSize, cells);
  const bytesPerCell = Math.min(max, zoomStep(vp.bytesPerCell, factor, vp.chunkSize));
  if (bytesPerCell === vp.bytesPerCell) return vp;
  const next = { ...vp, bytesPerCell };
  return { ...next, start: clampStart(next, anchorByte - anchor * bytesPerCell) };
}

/** Moves the view by whole cells (negative = towards offset 0). */
export function panCells(vp: Viewport, cells: number): Viewport {
  const start = clampStart(vp, vp.start + Math.round(cells) * vp.bytesPerCell);
  return start === vp.start ? vp : { ...vp, start };
}

export function panRows(vp: Viewport, rows: number): Viewport {
  return panCells(vp, rows * vp.cols);
}

/** Centres the view on a byte offset (keyboard "go to", live-write follow). */
export function centreOn(vp: Viewport, offset: number): Viewport {
  const half = Math.floor(cellCount(vp) / 2) * vp.bytesPerCell;
  return { ...vp, start: clampStart(vp, offset - half) };
}

/** What to ask the server for: exactly the visible cells, one bucket each. */
export function queryFor(vp: Viewport): RangeQuery {
  const start = Math.min(vp.start, vp.volumeSize);
  const end = Math.min(vp.volumeSize, start + cellCount(vp) * vp.bytesPerCell);
  const buckets = Math.max(1, Math.ceil((end - start) / vp.bytesPerCell));
  return { start, end, buckets };
}

/** Cell index under a point in CSS pixels, or undefined outside the drawn cells. */
export function cellAt(vp: Viewport, x: number, y: number, cellPx: number): number | undefined {
  if (x < 0 || y < 0) return undefined;
  const col = Math.floor(x / cellPx);
  const row = Math.floor(y / cellPx);
  if (col >= vp.cols || row >= vp.rows) return undefined;
  const index = row * vp.cols + col;
  return index < queryFor(vp).buckets ? index : undefined;
}

/** Byte range a cell stands for (the last cell may be short). */
export function cellRange(vp: Viewport, index: number): { offset: number; length: number } {
  const offset = vp.start + index * vp.bytesPerCell;
  const end = Math.min(vp.volumeSize, offset + vp.bytesPerCell);
  return { offset, length: Math.max(0, end - offset) };
}

/** Cell showing a byte offset, or undefined when it is scrolled out of view. */
export function cellOfOffset(vp: Viewport, offset: number): number | undefined {
  if (offset < vp.start) return undefined;
  const index = Math.floor((offset - vp.start) / vp.bytesPerCell);
  return index < queryFor(vp).buckets ? index : undefined;
}

/** Zoom as "1 cell = N chunks", for the status line. */
export function chunksPerCell(vp: Viewport): number {
  return vp.bytesPerCell / vp.chunkSize;
}
