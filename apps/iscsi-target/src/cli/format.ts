// Human output: sizes, tables, dates.
import { CliError, EXIT } from "./errors.js";

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 2 ** 10,
  kb: 2 ** 10,
  kib: 2 ** 10,
  m: 2 ** 20,
  mb: 2 ** 20,
  mib: 2 ** 20,
  g: 2 ** 30,
  gb: 2 ** 30,
  gib: 2 ** 30,
  t: 2 ** 40,
  tb: 2 ** 40,
  tib: 2 ** 40,
};

/** "1G", "512MiB", "4096" → bytes (binary units: storage people mean GiB). */
export function parseSize(text: string, what = "size"): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new CliError(`${what}: "${text}" is not a size (examples: 4096, 512M, 10G, 1.5TiB)`, EXIT.usage);
  }
  const bytes = Number(match[1]) * unit;
  if (!Number.isSafeInteger(bytes))
    throw new CliError(`${what}: "${text}" is not a whole number of bytes`, EXIT.usage);
  return bytes;
}

export function parseInteger(text: string, what: string, min = 0): number {
  if (!/^\d+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
    throw new CliError(`${what}: "${text}" is not an integer ≥ ${min}`, EXIT.usage);
  }
  return Number(text);
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 || Number.isInteger(value) ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

export function formatRate(perSecond: number, unit: string): string {
  return `${perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toFixed(1)} ${unit}`;
}

/** Left-aligned columns; numbers-looking cells right-aligned. */
export function table(headers: string[], rows: string[][]): string {
  if (rows.length === 0) return "";
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = headers.map((_, i) => rows.every((r) => /^-?[\d.,]+( [A-Za-z/]+)?$/.test(r[i] ?? "")));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const header = headers
    .map((h, i) => (numeric[i] ? h.padStart(widths[i]!) : h.padEnd(widths[i]!)))
    .join("  ")
    .trimEnd();
  return `${[header, ...rows.map(line)].join("\n")}\n`;
}

export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, "Z");
}
