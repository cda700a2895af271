// Small big-endian field helpers for the 48-byte BHS: the fields iSCSI packs at odd widths.

export function readU24(buf: Uint8Array, offset: number): number {
  return ((buf[offset] as number) << 16) | ((buf[offset + 1] as number) << 8) | (buf[offset + 2] as number);
}

export function writeU24(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = (value >>> 16) & 0xff;
  buf[offset + 1] = (value >>> 8) & 0xff;
  buf[offset + 2] = value & 0xff;
}

/** Bytes of padding that bring `length` to a multiple of 4. */
export function padLength(length: number): number {
  return (4 - (length & 3)) & 3;
}

/** Sentinel for a LUN field that uses an addressing method this target does not serve. */
export const UNADDRESSABLE_LUN = -1;

/**
 * The 8-byte LUN field (SAM-5): peripheral device addressing (method 0, bus 0) and flat space
 * addressing (method 1) are the two forms initiators use; anything else is unaddressable.
 */
export function decodeLun(buf: Uint8Array, offset: number): number {
  const b0 = buf[offset] as number;
  const b1 = buf[offset + 1] as number;
  for (let i = 2; i < 8; i++) if (buf[offset + i] !== 0) return UNADDRESSABLE_LUN;
  const method = b0 >> 6;
  if (method === 0) return (b0 & 0x3f) === 0 ? b1 : UNADDRESSABLE_LUN;
  if (method === 1) return ((b0 & 0x3f) << 8) | b1;
  return UNADDRESSABLE_LUN;
}

export function encodeLun(buf: Uint8Array, offset: number, lun: number): void {
  buf.fill(0, offset, offset + 8);
  if (lun < 256) {
    buf[offset + 1] = lun;
  } else {
    buf[offset] = 0x40 | ((lun >> 8) & 0x3f);
    buf[offset + 1] = lun & 0xff;
  }
}

/** 32-bit serial number arithmetic (RFC 1982) for CmdSN/StatSN/DataSN comparisons. */
export function snLessThan(a: number, b: number): boolean {
  return a !== b && ((b - a) | 0) > 0;
}

export function snAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
