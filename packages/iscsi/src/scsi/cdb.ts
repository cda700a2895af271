// Big-endian field readers for CDBs and parameter lists, and the block-command field decoders
// shared by READ/WRITE/VERIFY/… of every CDB size.
import { invalidField } from "./sense.js";

export function u16(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
}

export function u24(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 16) | ((b[at + 1] ?? 0) << 8) | (b[at + 2] ?? 0);
}

export function u32(b: Uint8Array, at: number): number {
  return (
    ((b[at] ?? 0) * 0x1000000 + (((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0))) >>> 0
  );
}

/** 64-bit field as a number; values past 2^53 saturate to Infinity (always out of range for us). */
export function u64(b: Uint8Array, at: number): number {
  const hi = u32(b, at);
  const lo = u32(b, at + 4);
  if (hi >= 0x200000) return Number.POSITIVE_INFINITY;
  return hi * 0x100000000 + lo;
}

export function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

export function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

export function put64(b: Uint8Array, at: number, v: number | bigint): void {
  const big = BigInt(v);
  put32(b, at, Number((big >> 32n) & 0xffffffffn));
  put32(b, at + 4, Number(big & 0xffffffffn));
}

/** Writes ASCII, space padded (SPC text fields). */
export function putAscii(b: Uint8Array, at: number, len: number, text: string): void {
  for (let i = 0; i < len; i++) b[at + i] = i < text.length ? text.charCodeAt(i) & 0x7f : 0x20;
}

/** CDB length by opcode group (SPC-4 4.3.2). */
export function cdbLengthOf(opcode: number): number {
  const group = opcode >> 5;
  switch (group) {
    case 0:
      return 6;
    case 1:
    case 2:
      return 10;
    case 4:
      return 16;
    case 5:
      return 12;
    default:
      return 0;
  }
}

/** LBA and number of blocks of a block-addressed CDB, by its size. */
export interface BlockRange {
  lba: number;
  blocks: number;
}

export function blockRange(cdb: Uint8Array): BlockRange {
  const opcode = cdb[0] ?? 0;
  switch (cdbLengthOf(opcode)) {
    case 6: {
      // READ(6)/WRITE(6): 21-bit LBA, 0 blocks means 256.
      const lba = ((cdb[1] ?? 0) & 0x1f) * 0x10000 + u16(cdb, 2);
      const n = cdb[4] ?? 0;
      return { lba, blocks: n === 0 ? 256 : n };
    }
    case 10:
      return { lba: u32(cdb, 2), blocks: u16(cdb, 7) };
    case 12:
      return { lba: u32(cdb, 2), blocks: u32(cdb, 6) };
    case 16:
      return { lba: u64(cdb, 2), blocks: u32(cdb, 10) };
    default:
      throw invalidField(0);
  }
}
