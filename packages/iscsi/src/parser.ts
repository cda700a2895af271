// Streaming PDU parser: feed socket chunks, get framed PDUs. It never allocates from a length
// field it has not checked: AHS length is bounded by its 8-bit field, the data segment by the
// negotiated MaxRecvDataSegmentLength, and with header digests the header is verified before
// any length in it is believed.
import { padLength, readU24 } from "./buffer-io.js";
import { computeDigest, DIGEST_LENGTH, readDigest } from "./digest.js";
import { IscsiProtocolError } from "./errors.js";
import { InitiatorOpcode } from "./opcodes.js";
import { BHS_LENGTH, type Pdu } from "./pdu.js";
import { allocSlice } from "./slab.js";

const EMPTY = Buffer.alloc(0);

export interface ParserLimits {
  headerDigest: boolean;
  dataDigest: boolean;
  /** Largest data segment this side accepts (what it declared as MaxRecvDataSegmentLength). */
  maxRecvDataSegmentLength: number;
}

export interface ParsedPdu extends Pdu {
  /** The data digest did not match: the PDU is framed correctly but its data is not to be used. */
  readonly dataDigestError: boolean;
}

export class PduParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** feedTransient: the start of an incomplete PDU, copied out of the caller's chunk. */
  private pending: Buffer = EMPTY;
  private pendingLength = 0;
  private limits: ParserLimits;

  constructor(limits: ParserLimits) {
    this.limits = { ...limits };
  }

  /** Takes effect from the next PDU (e.g. digests switch on after the last Login Response). */
  setLimits(limits: Partial<ParserLimits>): void {
    this.limits = { ...this.limits, ...limits };
  }

  get bufferedBytes(): number {
    return this.buffered + this.pendingLength;
  }

  /**
   * Consumes `chunk`; calls `onPdu` for each complete PDU, in order, synchronously (so the callback
   * can change limits before the next one is framed). Throws IscsiProtocolError on a bad length or
   * header digest; the stream cannot be resynchronised after that. The parser keeps `chunk` (or
   * views of it) as long as a PDU needs it: the caller must not reuse it. For a reused read
   * buffer use feedTransient.
   */
  feed(chunk: Buffer, onPdu: (pdu: ParsedPdu) => void): void {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    for (;;) {
      if (this.buffered < BHS_LENGTH) return;
      const headerLength = this.headerLength(this.peek(BHS_LENGTH), 0);
      if (this.buffered < headerLength) return;
      const total = this.checkedLength(this.peek(headerLength), 0);
      if (this.buffered < total) return;
      this.deliver(this.take(total), 0, onPdu, false);
    }
  }

  /**
   * Like feed, for a chunk the caller overwrites once this returns (one read buffer reused for
   * every socket read: no allocation per read, which V8 counts towards its next full GC). The
   * data segment of a SCSI Command or Data-Out PDU is then a view into `chunk` (or into the
   * parser's assembly buffer) that is valid only while `onPdu` runs: the consumer copies it into
   * the task's buffer. Every other part of every PDU is a copy the consumer may keep. Bytes of an
   * incomplete PDU are copied and completed by the next call. Do not mix with feed.
   */
  feedTransient(chunk: Buffer, onPdu: (pdu: ParsedPdu) => void): void {
    let off = 0;
    const end = chunk.length;
    // First finish the PDU an earlier chunk started.
    while (this.pendingLength > 0 && off < end) {
      let need = this.neededFor(this.pending, 0, this.pendingLength);
      while (this.pendingLength < need && off < end) {
        const n = Math.min(need - this.pendingLength, end - off);
        this.reservePending(this.pendingLength + n);
        chunk.copy(this.pending, this.pendingLength, off, off + n);
        this.pendingLength += n;
        off += n;
        // The header is now complete: the PDU's full length is known (or it grew past the header).
        if (this.pendingLength === need) need = this.neededFor(this.pending, 0, need);
      }
      if (this.pendingLength < need) return;
      this.pendingLength = 0;
      this.deliver(this.pending, 0, onPdu, true);
    }
    while (off < end) {
      const need = this.neededFor(chunk, off, end - off);
      if (end - off < need) break;
      this.deliver(chunk, off, onPdu, true);
      off += need;
    }
    if (off < end) {
      this.reservePending(end - off);
      chunk.copy(this.pending, 0, off, end);
      this.pendingLength = end - off;
    }
  }

  /** BHS + AHS + header digest, from the BHS at `off` alone. */
  private headerLength(buf: Buffer, off: number): number {
    return BHS_LENGTH + ahsLengthAt(buf, off) + (this.limits.headerDigest ? DIGEST_LENGTH : 0);
  }

  /**
   * The whole PDU's length on the wire, from its complete header at `off` (digest verified first,
   * then the data segment length checked against the limit).
   */
  private checkedLength(buf: Buffer, off: number): number {
    const ahsLength = ahsLengthAt(buf, off);
    const headerLength = this.headerLength(buf, off);
    if (this.limits.headerDigest) {
      const expected = readDigest(buf, off + BHS_LENGTH + ahsLength);
      if (computeDigest(buf, off, off + BHS_LENGTH + ahsLength) !== expected) {
        throw new IscsiProtocolError("header-digest", "header digest mismatch");
      }
    }
    const dataLength = dataLengthAt(buf, off);
    if (dataLength > this.limits.maxRecvDataSegmentLength) {
      throw new IscsiProtocolError(
        "bad-length",
        `data segment of ${dataLength} bytes exceeds MaxRecvDataSegmentLength ${this.limits.maxRecvDataSegmentLength}`,
      );
    }
    const dataDigestLength = this.limits.dataDigest && dataLength > 0 ? DIGEST_LENGTH : 0;
    return headerLength + dataLength + padLength(dataLength) + dataDigestLength;
  }

  /**
   * Bytes the PDU at `off` needs in all, as far as `avail` bytes tell: the BHS, then the whole
   * header, then (header checked) the whole PDU.
   */
  private neededFor(buf: Buffer, off: number, avail: number): number {
    if (avail < BHS_LENGTH) return BHS_LENGTH;
    const headerLength = this.headerLength(buf, off);
    if (avail < headerLength) return headerLength;
    return this.checkedLength(buf, off);
  }

  /** Room for `n` bytes in the assembly buffer (n is bounded by the checked limits). */
  private reservePending(n: number): void {
    if (n <= this.pending.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(n, 2 * this.pending.length, 64 * 1024));
    this.pending.copy(grown, 0, 0, this.pendingLength);
    this.pending = grown;
  }

  /** Hands the complete PDU at `off` of `buf` to `onPdu`; `transient`: see feedTransient. */
  private deliver(buf: Buffer, off: number, onPdu: (pdu: ParsedPdu) => void, transient: boolean): void {
    const ahsLength = ahsLengthAt(buf, off);
    const headerLength = this.headerLength(buf, off);
    const dataLength = dataLengthAt(buf, off);
    const dataStart = off + headerLength;
    const padded = dataLength + padLength(dataLength);
    let dataDigestError = false;
    if (this.limits.dataDigest && dataLength > 0) {
      // The digest covers the data and its padding, as sent.
      const crc = computeDigest(buf, dataStart, dataStart + padded);
      dataDigestError = crc !== readDigest(buf, dataStart + padded);
    }
    if (!transient) {
      const bhs = buf.subarray(off, off + BHS_LENGTH);
      const ahs = buf.subarray(off + BHS_LENGTH, off + BHS_LENGTH + ahsLength);
      const data = buf.subarray(dataStart, dataStart + dataLength);
      onPdu({ bhs, ahs, data, dataDigestError });
      return;
    }
    const header = allocSlice(BHS_LENGTH + ahsLength);
    buf.copy(header, 0, off, off + BHS_LENGTH + ahsLength);
    const opcode = (buf[off] as number) & 0x3f;
    let data: Buffer;
    if (opcode === InitiatorOpcode.scsiDataOut || opcode === InitiatorOpcode.scsiCommand) {
      data = buf.subarray(dataStart, dataStart + dataLength);
    } else {
      data = dataLength === 0 ? EMPTY : allocSlice(dataLength);
      buf.copy(data, 0, dataStart, dataStart + dataLength);
    }
    const bhs = header.subarray(0, BHS_LENGTH);
    const ahs = header.subarray(BHS_LENGTH);
    onPdu({ bhs, ahs, data, dataDigestError });
  }

  /**
   * The first `n` buffered bytes as one Buffer. A PDU that straddles socket chunks is copied
   * once, exactly its own bytes: the rest of the last chunk it touches stays where it is.
   */
  private peek(n: number): Buffer {
    const chunks = this.chunks;
    const first = chunks[0] as Buffer;
    if (first.length >= n) return first;
    const joined = allocSlice(n);
    let filled = 0;
    let count = 0;
    while (filled < n) {
      const c = chunks[count] as Buffer;
      const want = n - filled;
      if (c.length <= want) {
        c.copy(joined, filled);
        filled += c.length;
        count++;
      } else {
        c.copy(joined, filled, 0, want);
        chunks[count] = c.subarray(want);
        filled = n;
      }
    }
    chunks.splice(0, count, joined);
    return joined;
  }

  private take(n: number): Buffer {
    const head = this.peek(n);
    const out = head.length === n ? head : head.subarray(0, n);
    if (head.length === n) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    this.buffered -= n;
    return out;
  }
}

/** TotalAHSLength of the BHS at `off`, in bytes (pdu.ts's accessors read a BHS at offset 0). */
function ahsLengthAt(buf: Buffer, off: number): number {
  return (buf[off + 4] as number) * 4;
}

/** DataSegmentLength of the BHS at `off`. */
function dataLengthAt(buf: Buffer, off: number): number {
  return readU24(buf, off + 5);
}
