// A block map as text: one character per bucket, rows of `width` buckets labelled with their start
// offset, and a legend. A bucket shows its most telling class: written > preserved > data > empty.
import type { DecodedBlockMap } from "@livesnap/protocol";
import { formatBytes } from "./format.js";

const EMPTY = ".";
const DATA = "#";
const WRITTEN = "+";
const MIXED_EMPTY = ":"; // some data, mostly unallocated
const SNAPSHOT_MARKS = "abcdefghijklmnopqrstuvwxyz";

export interface RenderOptions {
  width: number;
  color: boolean;
}

const ansi = (code: number, text: string, on: boolean) => (on ? `\x1b[${code}m${text}\x1b[0m` : text);

export function renderBlockMap(map: DecodedBlockMap, { width, color }: RenderOptions): string {
  const column = (name: string) => map.classes.indexOf(name);
  const unallocated = column("unallocated");
  const shared = column("shared");
  const written = column("written");
  const preserved = map.classes
    .map((name, index) => ({ name, index }))
    .filter((c) => c.name.startsWith("preserved:"))
    .map((c, i) => ({
      snapshot: c.name.slice("preserved:".length),
      index: c.index,
      mark: SNAPSHOT_MARKS[i] ?? "*",
    }));

  const cell = (bucket: number, index: number) =>
    index < 0 ? 0 : (map.counts[bucket * map.classes.length + index] ?? 0);
  const marks: string[] = [];
  for (let b = 0; b < map.buckets; b++) {
    const empty = cell(b, unallocated);
    const data = cell(b, shared);
    let best = { mark: "", count: 0 };
    for (const p of preserved)
      if (cell(b, p.index) > best.count) best = { mark: p.mark, count: cell(b, p.index) };
    if (cell(b, written) > 0) marks.push(ansi(31, WRITTEN, color));
    else if (best.count > 0) marks.push(ansi(33, best.mark, color));
    else if (data > 0 && data >= empty) marks.push(ansi(32, DATA, color));
    else if (data > 0) marks.push(ansi(32, MIXED_EMPTY, color));
    else marks.push(ansi(2, EMPTY, color));
  }

  const bytesPerBucket = (map.end - map.start) / map.buckets;
  const rows = Math.ceil(map.buckets / width);
  const labels = Array.from({ length: rows }, (_, row) =>
    formatBytes(map.start + Math.floor(row * width * bytesPerBucket)),
  );
  const labelWidth = Math.max(...labels.map((l) => l.length));
  const lines = labels.map(
    (label, row) => `${label.padStart(labelWidth)} |${marks.slice(row * width, (row + 1) * width).join("")}|`,
  );
  const legend = [
    `${EMPTY} unallocated`,
    `${MIXED_EMPTY} partly allocated`,
    `${DATA} data in the volume`,
    ...(written >= 0 ? [`${WRITTEN} written since the reference snapshot`] : []),
    ...preserved.map((p) => `${p.mark} preserved in snapshot ${p.snapshot}`),
  ];
  const scale = `one character = ${formatBytes(Math.round(bytesPerBucket))} (chunk ${formatBytes(map.chunkSize)})`;
  return `${lines.join("\n")}\n${scale}\n${legend.join("   ")}\n`;
}
