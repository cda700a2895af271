// The block-map webview (browser bundle dist/webview.js): draws the volume's chunks on a canvas,
// asks the extension host for exactly the visible range at the current zoom (one bucket per cell,
// never per-chunk data), and lights up writes as `delta` messages arrive. Every message in either
// direction is a @livesnap/protocol webview message, validated on arrival.
import {
  type DecodedBlockMap,
  decodeBlockMap,
  HostToWebview,
  type Snapshot,
  type Volume,
  type WebviewToHost,
} from "@livesnap/protocol";
import { formatBytes } from "../format.js";
import { alphaFor, buildCellModel, type CellModel, colourVarFor, holderOf } from "./cell-model.js";
import { LiveWrites } from "./live-writes.js";
import {
  cellAt,
  cellRange,
  centreOn,
  chunksPerCell,
  fitAll,
  gridFor,
  panCells,
  panRows,
  queryFor,
  resize,
  type Viewport,
  zoomAt,
} from "./viewport.js";

interface VsCodeApi {
  postMessage(message: WebviewToHost): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const config = JSON.parse(document.body.dataset.config ?? "{}") as {
  volume?: string;
  cellSize?: number;
  live?: boolean;
};
const CELL_PX = Math.min(32, Math.max(3, config.cellSize ?? 8));

function el<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`webview: #${id} missing`);
  return found as T;
}
const canvas = el<HTMLCanvasElement>("map");
const wrap = el<HTMLDivElement>("map-wrap");
const hover = el<HTMLDivElement>("hover");
const viewSelect = el<HTMLSelectElement>("view");
const sinceSelect = el<HTMLSelectElement>("since");
const diffBox = el<HTMLInputElement>("diff");
const legend = el<HTMLUListElement>("legend");
const statusLine = el<HTMLSpanElement>("status");
const errorLine = el<HTMLSpanElement>("error");
const cellInfo = el<HTMLDivElement>("cell-info");
const title = el<HTMLHeadingElement>("title");

let volume: Volume | undefined;
let snapshots: Snapshot[] = [];
let vp: Viewport | undefined;
/** The last map received, and the viewport it was fetched for. */
let map: DecodedBlockMap | undefined;
let mapVp: Viewport | undefined;
let model: CellModel | undefined;
let cursor = 0;
let connected = true;
const liveWrites = new LiveWrites();
/** What the user looked at before the panel was hidden or VS Code reloaded (applied on first data). */
let restore = vscode.getState() as { view?: string; since?: string; diff?: boolean } | undefined;

// ------------------------------------------------------------------ fetching

let requestSeq = 0;
let inflight: { id: number; vp: Viewport } | undefined;
let refetchWanted = false;
let debounce: ReturnType<typeof setTimeout> | undefined;
let lastLiveRefetch = 0;
let liveRefetchTimer: ReturnType<typeof setTimeout> | undefined;

function post(message: WebviewToHost): void {
  vscode.postMessage(message);
}

function requestMap(): void {
  if (!volume || !vp || !connected) return;
  if (inflight) {
    refetchWanted = true;
    return;
  }
  const q = queryFor(vp);
  const id = ++requestSeq;
  inflight = { id, vp };
  post({
    type: "request-blockmap",
    volume: volume.name,
    ...(viewSelect.value ? { snapshot: viewSelect.value } : {}),
    ...(sinceSelect.value ? { since: sinceSelect.value } : {}),
    buckets: q.buckets,
    start: q.start,
    end: q.end,
    requestId: id,
  });
}

/** Coalesces bursts of pans/zooms into one request. */
function scheduleRequest(delayMs = 40): void {
  if (debounce) clearTimeout(debounce);
  debounce = setTimeout(() => {
    debounce = undefined;
    requestMap();
  }, delayMs);
}

/** Live writes change the counts: refetch, but at most once a second. */
function scheduleLiveRefetch(): void {
  if (liveRefetchTimer) return;
  const wait = Math.max(0, lastLiveRefetch + 1000 - Date.now());
  liveRefetchTimer = setTimeout(() => {
    liveRefetchTimer = undefined;
    lastLiveRefetch = Date.now();
    requestMap();
  }, wait);
}

// ------------------------------------------------------------------ colours (theme-aware)

const colourCache = new Map<string, string>();
function colour(varName: string): string {
  let c = colourCache.get(varName);
  if (c === undefined) {
    c = getComputedStyle(document.documentElement).getPropertyValue(varName).trim() || "#888";
    colourCache.set(varName, c);
  }
  return c;
}
// VS Code swaps the theme by changing body classes and the injected CSS variables.
new MutationObserver(() => {
  colourCache.clear();
  renderLegend();
  draw();
}).observe(document.body, { attributes: true, attributeFilter: ["class", "style"] });
new MutationObserver(() => {
  colourCache.clear();
  draw();
}).observe(document.documentElement, { attributes: true, attributeFilter: ["style"] });

function focusSnapshot(): string | undefined {
  return viewSelect.value || undefined;
}

function snapshotOrder(): string[] {
  return snapshots.map((s) => s.name);
}

// ------------------------------------------------------------------ drawing

let animating = false;

function draw(): void {
  const started = performance.now();
  paint();
  // Exposed for the e2e test and for anyone profiling a huge map in the webview devtools.
  document.body.dataset.drawMs = (performance.now() - started).toFixed(2);
}

function paint(): void {
  const ctx = canvas.getContext("2d");
  if (!ctx || !vp) return;
  const dpr = window.devicePixelRatio || 1;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, canvas.width / dpr, canvas.height / dpr);
  const gap = CELL_PX >= 6 ? 1 : 0;
  const size = CELL_PX - gap;
  const { buckets } = queryFor(vp);
  // The last map is reusable while only the start moved by whole cells: a pan draws at once.
  const shift =
    map && mapVp && mapVp.bytesPerCell === vp.bytesPerCell && (vp.start - mapVp.start) % vp.bytesPerCell === 0
      ? (vp.start - mapVp.start) / vp.bytesPerCell
      : undefined;
  const diff = diffBox.checked;
  const groups = new Map<string, number[]>();
  const pending: number[] = [];
  for (let i = 0; i < buckets; i++) {
    const j = shift === undefined ? -1 : i + shift;
    if (!model || !map || j < 0 || j >= map.buckets) {
      pending.push(i);
      continue;
    }
    const cls = model.classOf[j] ?? -1;
    if (cls < 0) {
      pending.push(i);
      continue;
    }
    // 8 opacity levels: few fillStyle switches even with 65 536 cells.
    const level = Math.round(alphaFor(model.share[j] ?? 0) * 8);
    const key = `${cls}|${level}`;
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  }
  const cols = vp.cols;
  const fill = (cells: number[]) => {
    for (const i of cells) ctx.fillRect((i % cols) * CELL_PX, Math.floor(i / cols) * CELL_PX, size, size);
  };
  ctx.globalAlpha = 1;
  ctx.fillStyle = colour("--ls-pending");
  fill(pending);
  for (const [key, cells] of groups) {
    const [clsText, levelText] = key.split("|");
    const info = model?.classes[Number(clsText)];
    if (!info) continue;
    const dim = diff && info.kind !== "written";
    ctx.globalAlpha = dim ? 0.15 : Number(levelText) / 8;
    ctx.fillStyle = colour(colourVarFor(info, snapshotOrder(), focusSnapshot()));
    fill(cells);
  }
  // Writes as they land: a fading outline in the theme's warning colour.
  const glow = map ? liveWrites.glow(vp, map.chunkSize, performance.now()) : new Map<number, number>();
  if (glow.size > 0) {
    ctx.fillStyle = colour("--ls-glow");
    for (const [cell, strength] of glow) {
      ctx.globalAlpha = 0.35 + 0.65 * strength;
      ctx.fillRect((cell % cols) * CELL_PX, Math.floor(cell / cols) * CELL_PX, size, size);
    }
  }
  if (document.activeElement === canvas && cursor < buckets) {
    ctx.globalAlpha = 1;
    ctx.strokeStyle = colour("--ls-cursor");
    ctx.lineWidth = 2;
    ctx.strokeRect(
      (cursor % cols) * CELL_PX + 1,
      Math.floor(cursor / cols) * CELL_PX + 1,
      size - 1,
      size - 1,
    );
  }
  ctx.globalAlpha = 1;
  if (glow.size > 0 && !animating) {
    animating = true;
    requestAnimationFrame(() => {
      animating = false;
      draw();
    });
  }
  canvas.dataset.cells = String(buckets);
  canvas.dataset.glowing = String(glow.size);
  updateStatus();
}

function renderLegend(): void {
  legend.replaceChildren();
  if (!model || !map) return;
  const width = map.classes.length;
  model.classes.forEach((info, c) => {
    let total = 0;
    for (let b = 0; b < map!.buckets; b++) total += map!.counts[b * width + c] ?? 0;
    const li = document.createElement("li");
    li.dataset.class = info.name;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    // CSSOM writes are allowed under the CSP (no inline style attributes in the HTML).
    swatch.style.background = colour(colourVarFor(info, snapshotOrder(), focusSnapshot()));
    const label =
      info.kind === "written" && sinceSelect.value
        ? diffBox.checked
          ? `Changed since ${sinceSelect.value}`
          : `Written since ${sinceSelect.value}`
        : info.label;
    li.append(swatch, `${label}: ${total.toLocaleString()} chunks`);
    legend.append(li);
  });
  const glowLi = document.createElement("li");
  const glowSwatch = document.createElement("span");
  glowSwatch.className = "swatch";
  glowSwatch.style.background = colour("--ls-glow");
  glowLi.append(glowSwatch, "Just written");
  legend.append(glowLi);
}

function updateStatus(): void {
  if (!vp || !volume) return;
  const q = queryFor(vp);
  const cpc = chunksPerCell(vp);
  statusLine.textContent =
    `${formatBytes(q.start)} – ${formatBytes(q.end)} of ${formatBytes(volume.sizeBytes)} · ` +
    `1 cell = ${cpc.toLocaleString()} chunk${cpc === 1 ? "" : "s"} (${formatBytes(vp.bytesPerCell)})` +
    (inflight ? " · loading…" : "");
  canvas.setAttribute(
    "aria-label",
    `Block map of ${volume.name}, ${statusLine.textContent}. Arrow keys move the cursor, plus and minus zoom, 0 fits.`,
  );
}

function describeCell(index: number): string | undefined {
  if (!vp || !map || !mapVp || !model || mapVp.bytesPerCell !== vp.bytesPerCell) return undefined;
  const j = index + (vp.start - mapVp.start) / vp.bytesPerCell;
  if (!Number.isInteger(j) || j < 0 || j >= map.buckets) return undefined;
  const { offset, length } = cellRange(vp, index);
  const width = map.classes.length;
  const lines = [
    `${formatBytes(offset)} – ${formatBytes(offset + length)} (offset ${offset.toLocaleString()})`,
    `chunks ${Math.floor(offset / map.chunkSize).toLocaleString()} – ${(Math.ceil((offset + length) / map.chunkSize) - 1).toLocaleString()}`,
  ];
  const parts: { label: string; n: number; holder: string }[] = [];
  model.classes.forEach((info, c) => {
    const n = map!.counts[j * width + c] ?? 0;
    if (n > 0) parts.push({ label: info.label, n, holder: holderOf(info) });
  });
  parts.sort((a, b) => b.n - a.n);
  for (const p of parts) lines.push(`${p.label}: ${p.n.toLocaleString()} — in ${p.holder}`);
  return lines.join("\n");
}

// ------------------------------------------------------------------ layout, input

function layout(): void {
  const rect = wrap.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.floor(rect.width * dpr));
  canvas.height = Math.max(1, Math.floor(rect.height * dpr));
  if (!volume) return;
  const { cols, rows } = gridFor(rect.width, rect.height, CELL_PX);
  const before = vp;
  vp = vp ? resize(vp, cols, rows) : fitAll(volume.sizeBytes, volume.chunkSize, cols, rows);
  if (!before || before.cols !== vp.cols || before.rows !== vp.rows || before.start !== vp.start)
    scheduleRequest();
  draw();
}

function setViewport(next: Viewport): void {
  if (next === vp) return;
  vp = next;
  saveState();
  draw();
  scheduleRequest();
}

function saveState(): void {
  vscode.setState({
    view: viewSelect.value,
    since: sinceSelect.value,
    diff: diffBox.checked,
    start: vp?.start,
    bytesPerCell: vp?.bytesPerCell,
  });
}

new ResizeObserver(() => layout()).observe(wrap);

canvas.addEventListener(
  "wheel",
  (e) => {
    if (!vp) return;
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    const anchor = cellAt(vp, e.clientX - r.left, e.clientY - r.top, CELL_PX) ?? 0;
    setViewport(zoomAt(vp, e.deltaY < 0 ? 2 : 0.5, anchor));
  },
  { passive: false },
);

let drag: { x: number; y: number; vp: Viewport } | undefined;
canvas.addEventListener("pointerdown", (e) => {
  if (!vp) return;
  drag = { x: e.clientX, y: e.clientY, vp };
  canvas.setPointerCapture(e.pointerId);
  canvas.classList.add("dragging");
});
canvas.addEventListener("pointerup", (e) => {
  drag = undefined;
  canvas.releasePointerCapture(e.pointerId);
  canvas.classList.remove("dragging");
});
canvas.addEventListener("pointermove", (e) => {
  if (!vp) return;
  if (drag) {
    const dx = Math.round((e.clientX - drag.x) / CELL_PX);
    const dy = Math.round((e.clientY - drag.y) / CELL_PX);
    setViewport(panCells(drag.vp, -dx - dy * drag.vp.cols));
    hover.hidden = true;
    return;
  }
  const r = canvas.getBoundingClientRect();
  const cell = cellAt(vp, e.clientX - r.left, e.clientY - r.top, CELL_PX);
  const text = cell === undefined ? undefined : describeCell(cell);
  if (!text) {
    hover.hidden = true;
    return;
  }
  hover.textContent = text;
  hover.hidden = false;
  const x = e.clientX - r.left + 14;
  const y = e.clientY - r.top + 14;
  hover.style.left = `${Math.min(x, r.width - hover.offsetWidth - 4)}px`;
  hover.style.top = `${Math.min(y, r.height - hover.offsetHeight - 4)}px`;
});
canvas.addEventListener("pointerleave", () => {
  hover.hidden = true;
});
canvas.addEventListener("focus", () => draw());
canvas.addEventListener("blur", () => draw());

function moveCursor(to: number): void {
  if (!vp) return;
  const cells = queryFor(vp).buckets;
  let next = vp;
  if (to < 0) {
    next = panRows(vp, -Math.ceil(-to / vp.cols));
    to += (vp.start - next.start) / vp.bytesPerCell;
  } else if (to >= cells) {
    next = panRows(vp, Math.ceil((to - cells + 1) / vp.cols));
    to -= (next.start - vp.start) / vp.bytesPerCell;
  }
  cursor = Math.min(Math.max(0, to), queryFor(next).buckets - 1);
  setViewport(next);
  draw();
  cellInfo.textContent = describeCell(cursor) ?? "";
}

canvas.addEventListener("keydown", (e) => {
  if (!vp || !volume) return;
  const page = Math.max(1, vp.rows - 1);
  const handled = true;
  switch (e.key) {
    case "ArrowLeft":
      moveCursor(cursor - 1);
      break;
    case "ArrowRight":
      moveCursor(cursor + 1);
      break;
    case "ArrowUp":
      moveCursor(cursor - vp.cols);
      break;
    case "ArrowDown":
      moveCursor(cursor + vp.cols);
      break;
    case "PageUp":
      setViewport(panRows(vp, -page));
      break;
    case "PageDown":
      setViewport(panRows(vp, page));
      break;
    case "Home":
      setViewport(panCells(vp, -Number.MAX_SAFE_INTEGER / vp.bytesPerCell));
      break;
    case "End":
      setViewport(centreOn(vp, volume.sizeBytes));
      break;
    case "+":
    case "=":
      setViewport(zoomAt(vp, 2, cursor));
      break;
    case "-":
    case "_":
      setViewport(zoomAt(vp, 0.5, cursor));
      break;
    case "0":
      setViewport(fitAll(volume.sizeBytes, volume.chunkSize, vp.cols, vp.rows));
      break;
    case "Enter":
    case " ":
      cellInfo.textContent = describeCell(cursor) ?? "no data for this cell yet";
      break;
    default:
      return;
  }
  if (handled) e.preventDefault();
});

el<HTMLButtonElement>("zoom-in").addEventListener("click", () => {
  if (vp) setViewport(zoomAt(vp, 2, Math.floor(queryFor(vp).buckets / 2)));
});
el<HTMLButtonElement>("zoom-out").addEventListener("click", () => {
  if (vp) setViewport(zoomAt(vp, 0.5, Math.floor(queryFor(vp).buckets / 2)));
});
el<HTMLButtonElement>("fit").addEventListener("click", () => {
  if (vp && volume) setViewport(fitAll(volume.sizeBytes, volume.chunkSize, vp.cols, vp.rows));
});
el<HTMLButtonElement>("take-snapshot").addEventListener("click", () => {
  if (volume) post({ type: "take-snapshot", volume: volume.name });
});

function onSelectionChanged(): void {
  // Diff needs a baseline: default to the oldest snapshot.
  if (diffBox.checked && !sinceSelect.value && snapshots[0]) sinceSelect.value = snapshots[0].name;
  map = undefined;
  model = undefined;
  saveState();
  draw();
  requestMap();
}
viewSelect.addEventListener("change", onSelectionChanged);
sinceSelect.addEventListener("change", onSelectionChanged);
diffBox.addEventListener("change", onSelectionChanged);

function fillSelect(select: HTMLSelectElement, first: string, names: string[]): void {
  const keep = select.value;
  const options = [new Option(first, "")];
  for (const n of names) options.push(new Option(n, n));
  select.replaceChildren(...options);
  select.value = names.includes(keep) ? keep : "";
}

// ------------------------------------------------------------------ messages from the host

window.addEventListener("message", (event: MessageEvent<unknown>) => {
  const parsed = HostToWebview.safeParse(event.data);
  if (!parsed.success) {
    errorLine.textContent = "ignored a malformed message from the extension";
    return;
  }
  const msg = parsed.data;
  switch (msg.type) {
    case "volume": {
      const resized = volume && volume.sizeBytes !== msg.volume.sizeBytes;
      volume = msg.volume;
      snapshots = [...msg.snapshots].sort((a, b) => a.seq - b.seq);
      title.textContent = `Block map: ${volume.name}`;
      const names = snapshots.map((s) => s.name);
      // Refreshes arrive every few seconds under I/O: rebuild the selectors only when names change
      // (rebuilding would close an open dropdown).
      if (names.join("\n") !== document.body.dataset.snapshots?.split(",").join("\n")) {
        fillSelect(viewSelect, "Live volume", names);
        fillSelect(sinceSelect, "—", names);
      }
      document.body.dataset.snapshots = names.join(",");
      if (resized) vp = undefined;
      if (restore) {
        if (restore.view && names.includes(restore.view)) viewSelect.value = restore.view;
        if (restore.since && names.includes(restore.since)) sinceSelect.value = restore.since;
        restore = undefined;
      }
      layout();
      requestMap();
      break;
    }
    case "blockmap": {
      if (!inflight || msg.requestId !== inflight.id) break; // an answer to a view we left
      map = decodeBlockMap(msg.map);
      mapVp = inflight.vp;
      model = buildCellModel(map, focusSnapshot());
      inflight = undefined;
      errorLine.textContent = "";
      document.body.dataset.mapVersion = String(requestSeq);
      document.body.dataset.classes = map.classes.join(",");
      renderLegend();
      draw();
      if (refetchWanted) {
        refetchWanted = false;
        requestMap();
      }
      break;
    }
    case "delta": {
      if (!volume || msg.volume !== volume.name || config.live === false) break;
      // Writes land in the live volume; a snapshot's picture only changes through its counts.
      if (!viewSelect.value) liveWrites.add(msg.runs, performance.now());
      document.body.dataset.deltas = String(Number(document.body.dataset.deltas ?? "0") + 1);
      draw();
      scheduleLiveRefetch();
      break;
    }
    case "focus": {
      if (msg.diff) {
        sinceSelect.value = msg.diff.from;
        viewSelect.value = msg.diff.to ?? "";
        diffBox.checked = true;
      } else {
        viewSelect.value = msg.snapshot ?? "";
        diffBox.checked = false;
      }
      onSelectionChanged();
      break;
    }
    case "connection": {
      connected = msg.connected;
      errorLine.textContent = msg.connected ? "" : `Disconnected${msg.message ? `: ${msg.message}` : ""}`;
      if (connected) requestMap();
      break;
    }
    case "error": {
      if (msg.requestId !== undefined && inflight?.id === msg.requestId) inflight = undefined;
      errorLine.textContent = msg.message;
      updateStatus();
      break;
    }
  }
});

// Restore what the user looked at before the panel was hidden or VS Code reloaded.
if (restore) diffBox.checked = restore.diff === true;
post({ type: "ready" });
