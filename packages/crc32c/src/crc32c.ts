// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), slicing-by-8: eight 256-entry tables
// let the loop consume 8 bytes per iteration, ~5x the byte-at-a-time speed in V8.
const POLY = 0x82f63b78;
const TABLES = buildTables();

function buildTables(): Uint32Array[] {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const t0 = tables[0] as Uint32Array;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t0[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t0[n] as number;
    for (let t = 1; t < 8; t++) {
      c = (t0[c & 0xff] as number) ^ (c >>> 8);
      (tables[t] as Uint32Array)[n] = c >>> 0;
    }
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES as [
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
];

/**
 * CRC32C of `data[start, end)`. Pass a previous result as `seed` to continue a running checksum
 * over several buffers (crc32c(b, crc32c(a)) === crc32c(a ++ b)).
 */
export function crc32c(data: Uint8Array, seed = 0, start = 0, end = data.length): number {
  let crc = ~seed >>> 0;
  let i = start;
  const stop8 = end - ((end - start) & 7);
  // Indexed reads are in bounds by construction; the `as number` casts satisfy noUncheckedIndexedAccess.
  while (i < stop8) {
    const lo =
      (crc ^
        ((data[i] as number) |
          ((data[i + 1] as number) << 8) |
          ((data[i + 2] as number) << 16) |
          ((data[i + 3] as number) << 24))) >>>
      0;
    const hi =
      (data[i + 4] as number) |
      ((data[i + 5] as number) << 8) |
      ((data[i + 6] as number) << 16) |
      ((data[i + 7] as number) << 24);
    crc =
      (T7[lo & 0xff] as number) ^
      (T6[(lo >>> 8) & 0xff] as number) ^
      (T5[(lo >>> 16) & 0xff] as number) ^
      (T4[lo >>> 24] as number) ^
      (T3[hi & 0xff] as number) ^
      (T2[(hi >>> 8) & 0xff] as number) ^
      (T1[(hi >>> 16) & 0xff] as number) ^
      (T0[hi >>> 24] as number);
    i += 8;
  }
  while (i < end) {
    crc = (T0[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
    i++;
  }
  return ~crc >>> 0;
}
