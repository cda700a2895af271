// iSCSI header and data digests: CRC32C, sent least significant byte first (RFC 7143 §13.1 and
// what every initiator does in practice).
import { crc32c } from "@livesnap/crc32c";

export const DIGEST_LENGTH = 4;

export function computeDigest(data: Uint8Array, start = 0, end = data.length): number {
  return crc32c(data, 0, start, end);
}

/** Continue a digest over several buffers (data segment, then its padding). */
export function continueDigest(previous: number, data: Uint8Array, start = 0, end = data.length): number {
  return crc32c(data, previous, start, end);
}

export function writeDigest(buf: Buffer, offset: number, digest: number): void {
  buf.writeUInt32LE(digest >>> 0, offset);
}

export function readDigest(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset);
}
