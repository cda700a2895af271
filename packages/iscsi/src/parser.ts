// Streaming PDU parser: feed socket chunks, get framed PDUs. It never allocates from a length
// field it has not checked: AHS length is bounded by its 8-bit field, the data segment by the
// negotiated MaxRecvDataSegmentLength, and with header digests the header is verified before
// any length in it is believed.
import { padLength } from "./buffer-io.js";
import { computeDigest, DIGEST_LENGTH, readDigest } from "./digest.js";
import { IscsiProtocolError } from "./errors.js";
import { BHS_LENGTH, dataSegmentLength, type Pdu, totalAhsLength } from "./pdu.js";
import { allocSlice } from "./slab.js";

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
  private limits: ParserLimits;

  constructor(limits: ParserLimits) {
    this.limits = { ...limits };
  }

  /** Takes effect from the next PDU (e.g. digests switch on after the last Login Response). */
  setLimits(limits: Partial<ParserLimits>): void {
    this.limits = { ...this.limits, ...limits };
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * Consumes `chunk`; calls `onPdu` for each complete PDU, in order, synchronously (so the callback
   * can change limits before the next one is framed). Throws IscsiProtocolError on a bad length or
   * header digest; the stream cannot be resynchronised after that.
   */
  feed(chunk: Buffer, onPdu: (pdu: ParsedPdu) => void): void {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    for (;;) {
      if (this.buffered < BHS_LENGTH) return;
      const bhsPeek = this.peek(BHS_LENGTH);
      const ahsLength = totalAhsLength(bhsPeek);
      const headerDigestLength = this.limits.headerDigest ? DIGEST_LENGTH : 0;
      const headerLength = BHS_LENGTH + ahsLength + headerDigestLength;
      if (this.buffered < headerLength) return;
      const header = this.peek(headerLength);
      if (this.limits.headerDigest) {
        const expected = readDigest(header, BHS_LENGTH + ahsLength);
        if (computeDigest(header, 0, BHS_LENGTH + ahsLength) !== expected) {
          throw new IscsiProtocolError("header-digest", "header digest mismatch");
        }
      }
      const dataLength = dataSegmentLength(header);
      if (dataLength > this.limits.maxRecvDataSegmentLength) {
        throw new IscsiProtocolError(
          "bad-length",
          `data segment of ${dataLength} bytes exceeds MaxRecvDataSegmentLength ${this.limits.maxRecvDataSegmentLength}`,
        );
      }
      const dataDigestLength = this.limits.dataDigest && dataLength > 0 ? DIGEST_LENGTH : 0;
      const padded = dataLength + padLength(dataLength);
      const total = headerLength + padded + dataDigestLength;
      if (this.buffered < total) return;
      const whole = this.take(total);
      const bhs = whole.subarray(0, BHS_LENGTH);
      const ahs = whole.subarray(BHS_LENGTH, BHS_LENGTH + ahsLength);
      const data = whole.subarray(headerLength, headerLength + dataLength);
      let dataDigestError = false;
      if (dataDigestLength > 0) {
        // The digest covers the data and its padding, as sent.
        const crc = computeDigest(whole, headerLength, headerLength + padded);
        dataDigestError = crc !== readDigest(whole, headerLength + padded);
      }
      onPdu({ bhs, ahs, data, dataDigestError });
    }
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
