// A framed PDU: the 48-byte Basic Header Segment, its Additional Header Segments and the data
// segment without padding or digests. Field accessors read the BHS in place (no copying).
import { readU24 } from "./buffer-io.js";

export const BHS_LENGTH = 48;
/** Login PDUs carry at most 8192 bytes of data whatever is negotiated (RFC 7143 §6.1). */
export const LOGIN_MAX_DATA_SEGMENT = 8192;

export interface Pdu {
  readonly bhs: Buffer;
  /** Concatenated AHS, each padded to 4 bytes (often empty). */
  readonly ahs: Buffer;
  readonly data: Buffer;
}

export function opcodeOf(bhs: Uint8Array): number {
  return (bhs[0] as number) & 0x3f;
}

export function isImmediate(bhs: Uint8Array): boolean {
  return ((bhs[0] as number) & 0x40) !== 0;
}

export function isFinal(bhs: Uint8Array): boolean {
  return ((bhs[1] as number) & 0x80) !== 0;
}

export function totalAhsLength(bhs: Uint8Array): number {
  return (bhs[4] as number) * 4;
}

export function dataSegmentLength(bhs: Uint8Array): number {
  return readU24(bhs, 5);
}

export function initiatorTaskTag(bhs: Buffer): number {
  return bhs.readUInt32BE(16);
}

/** An additional header segment (RFC 7143 §11.2.2). */
export interface Ahs {
  type: number;
  /** AHS-specific bytes, starting with the reserved byte after the type. */
  specific: Buffer;
}

export const AhsType = { extendedCdb: 1, bidirectionalReadLength: 2 } as const;
