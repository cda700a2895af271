// EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4 6.4, 6.18): block-to-block copies between
// LUNs of this target port, named by their NAA designators (identification CSCD descriptors, E4h).
// This is what VMware's VAAI "full copy" offload uses. The copy manager reads and writes through
// the same backends as ordinary commands; destination writes are admitted per piece as they run.
import { put16, put32, u16, u32, u64 } from "./cdb.js";
import { type CommandContext, type Prepared, requireLu, truncate } from "./command.js";
import { naa6 } from "./inquiry.js";
import type { LogicalUnit } from "./logical-unit.js";
import { Asc, illegalRequest, invalidField, invalidParameter, SenseError, SenseKey } from "./sense.js";

export const COPY_LIMITS = {
  maxCscdDescriptors: 8,
  maxSegmentDescriptors: 8,
  maxDescriptorListLength: 1024,
  maxSegmentBytes: 32 * 1024 * 1024,
} as const;

const HEADER = 16;
const CSCD_LENGTH = 32;
const TYPE_IDENTIFICATION = 0xe4;
const TYPE_BLOCK_TO_BLOCK = 0x02;
const PIECE = 1024 * 1024;

const TOO_MANY_CSCD = 0x2606;
const UNSUPPORTED_CSCD_TYPE = 0x2607;
const TOO_MANY_SEGMENTS = 0x2608;
const UNSUPPORTED_SEGMENT_TYPE = 0x2609;
const COPY_TARGET_NOT_REACHABLE = 0x0d02;

/** Result of a finished copy, kept for RECEIVE COPY RESULTS when LIST ID USAGE asks to hold it. */
export interface CopyStatus {
  ok: boolean;
  segmentsProcessed: number;
  bytes: number;
}

/** Held copy results per I_T nexus and list identifier. */
export class CopyResults {
  readonly #held = new Map<string, CopyStatus>();
  set(nexus: string, listId: number, s: CopyStatus): void {
    const key = `${nexus}#${listId}`;
    this.#held.delete(key);
    this.#held.set(key, s);
    // Bounded: the oldest results go first.
    while (this.#held.size > 64) this.#held.delete(this.#held.keys().next().value ?? "");
  }
  get(nexus: string, listId: number): CopyStatus | undefined {
    return this.#held.get(`${nexus}#${listId}`);
  }
}

export interface CopyServices {
  units(): Iterable<LogicalUnit>;
  copyResults: CopyResults;
}

function copyAborted(asc: number, segment?: number): SenseError {
  return new SenseError(
    segment === undefined
      ? { key: SenseKey.copyAborted, asc }
      : { key: SenseKey.copyAborted, asc, information: segment },
  );
}

interface Segment {
  source: LogicalUnit;
  destination: LogicalUnit;
  blocks: number;
  sourceLba: number;
  destinationLba: number;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function parse(
  list: Uint8Array,
  services: CopyServices,
  nexus: string,
): { listId: number; usage: number; segments: Segment[] } {
  if (list.length < HEADER) throw illegalRequest(Asc.parameterListLengthError);
  const listId = list[0] ?? 0;
  const usage = ((list[1] ?? 0) >> 3) & 0x03;
  const cscdLength = u16(list, 2);
  const segLength = u32(list, 8);
  const inlineLength = u32(list, 12);
  if (cscdLength + segLength > COPY_LIMITS.maxDescriptorListLength) {
    throw illegalRequest(Asc.parameterListLengthError);
  }
  if (HEADER + cscdLength + segLength + inlineLength > list.length) {
    throw illegalRequest(Asc.parameterListLengthError);
  }
  if (inlineLength !== 0) throw invalidParameter(12);
  // CSCD descriptors.
  const targets: (LogicalUnit | undefined)[] = [];
  for (let at = HEADER; at < HEADER + cscdLength; ) {
    const type = list[at] ?? 0;
    if (type < 0xe0 || type > 0xeb) throw illegalRequest(UNSUPPORTED_CSCD_TYPE);
    const len = type >= 0xea ? 64 : CSCD_LENGTH;
    if (type !== TYPE_IDENTIFICATION) throw illegalRequest(UNSUPPORTED_CSCD_TYPE);
    if (targets.length >= COPY_LIMITS.maxCscdDescriptors) throw illegalRequest(TOO_MANY_CSCD);
    if (at + len > HEADER + cscdLength) throw illegalRequest(Asc.parameterListLengthError);
    const peripheralType = (list[at + 1] ?? 0) & 0x1f;
    const nul = ((list[at + 1] ?? 0) & 0x20) !== 0;
    const designatorType = (list[at + 5] ?? 0) & 0x0f;
    const designatorLength = list[at + 7] ?? 0;
    const designator = list.subarray(at + 8, at + 8 + Math.min(designatorLength, 20));
    let lu: LogicalUnit | undefined;
    if (!nul && peripheralType === 0 && designatorType === 3) {
      for (const u of services.units()) {
        if (sameBytes(naa6(u.backend), designator)) {
          const blockLength = ((list[at + 29] ?? 0) << 16) | u16(list, at + 30);
          if (blockLength === u.backend.blockSize) lu = u;
          break;
        }
      }
    }
    targets.push(lu);
    at += len;
  }
  // Segment descriptors.
  const segments: Segment[] = [];
  for (let at = HEADER + cscdLength; at < HEADER + cscdLength + segLength; ) {
    const type = list[at] ?? 0;
    const len = u16(list, at + 2) + 4;
    if (type !== TYPE_BLOCK_TO_BLOCK) throw illegalRequest(UNSUPPORTED_SEGMENT_TYPE);
    if (segments.length >= COPY_LIMITS.maxSegmentDescriptors) throw illegalRequest(TOO_MANY_SEGMENTS);
    if (len !== 0x1c || at + len > HEADER + cscdLength + segLength) {
      throw illegalRequest(Asc.parameterListLengthError);
    }
    const n = segments.length;
    const source = targets[u16(list, at + 4)];
    const destination = targets[u16(list, at + 6)];
    if (!source || !destination) throw copyAborted(COPY_TARGET_NOT_REACHABLE, n);
    const blocks = u16(list, at + 10);
    const sourceLba = u64(list, at + 12);
    const destinationLba = u64(list, at + 20);
    const dcBlocks = ((list[at + 1] ?? 0) & 0x02) !== 0;
    // NUMBER OF BLOCKS counts source blocks (DC=0) or destination blocks (DC=1).
    const bytes = blocks * (dcBlocks ? destination.backend.blockSize : source.backend.blockSize);
    if (bytes % source.backend.blockSize !== 0 || bytes % destination.backend.blockSize !== 0) {
      throw copyAborted(0x0000, n);
    }
    if (bytes > COPY_LIMITS.maxSegmentBytes) throw copyAborted(0x0000, n);
    if (
      sourceLba * source.backend.blockSize + bytes > source.backend.sizeBytes ||
      destinationLba * destination.backend.blockSize + bytes > destination.backend.sizeBytes
    ) {
      throw copyAborted(0x0000, n);
    }
    if (destination.backend.readOnly)
      throw new SenseError({ key: SenseKey.dataProtect, asc: Asc.writeProtected });
    // The copy runs on behalf of the nexus that sent it: other LUs' reservations apply to it too.
    source.pr.check(nexus, "read");
    destination.pr.check(nexus, "write");
    segments.push({ source, destination, blocks: bytes, sourceLba, destinationLba });
    at += len;
  }
  return { listId, usage, segments };
}

async function copySegment(s: Segment): Promise<number> {
  const length = s.blocks; // bytes (see parse)
  const from = s.sourceLba * s.source.backend.blockSize;
  const to = s.destinationLba * s.destination.backend.blockSize;
  // Overlapping copy forward within one LU: go backwards so no byte is read after being overwritten.
  const backwards = s.source === s.destination && to > from && to < from + length;
  const pieces: number[] = [];
  for (let at = 0; at < length; at += PIECE) pieces.push(at);
  if (backwards) pieces.reverse();
  for (const at of pieces) {
    const n = Math.min(PIECE, length - at);
    const data = await s.source.backend.read(from + at, n);
    const ticket = s.destination.backend.admit(to + at, n);
    await s.destination.backend.write(ticket, data.subarray(0, n), {
      fua: !s.destination.modes.writeCacheEnabled,
    });
  }
  return length;
}

export function extendedCopy(ctx: CommandContext, services: CopyServices): Prepared {
  requireLu(ctx);
  const { cdb } = ctx;
  const listLength = u32(cdb, 10);
  // Nothing longer than the header and the largest descriptor list is ever valid.
  if (listLength > HEADER + COPY_LIMITS.maxDescriptorListLength)
    throw illegalRequest(Asc.parameterListLengthError);
  return {
    dataOutLength: listLength,
    run: async (list) => {
      if (list.length === 0) return undefined;
      const { listId, usage, segments } = parse(list, services, ctx.nexus);
      const status: CopyStatus = { ok: false, segmentsProcessed: 0, bytes: 0 };
      try {
        for (const s of segments) {
          status.bytes += await copySegment(s);
          status.segmentsProcessed++;
        }
        status.ok = true;
      } finally {
        // LIST ID USAGE 00b/01b: hold the results for RECEIVE COPY RESULTS.
        if (usage < 2) services.copyResults.set(ctx.nexus, listId, status);
      }
      return undefined;
    },
  };
}

export function receiveCopyResults(ctx: CommandContext, services: CopyServices): Prepared {
  requireLu(ctx);
  const { cdb } = ctx;
  const sa = (cdb[1] ?? 0) & 0x1f;
  const listId = cdb[2] ?? 0;
  const alloc = u32(cdb, 10);
  if (sa === 0x03) {
    const d = new Uint8Array(46);
    put32(d, 0, d.length - 4);
    put16(d, 8, COPY_LIMITS.maxCscdDescriptors);
    put16(d, 10, COPY_LIMITS.maxSegmentDescriptors);
    put32(d, 12, COPY_LIMITS.maxDescriptorListLength);
    put32(d, 16, COPY_LIMITS.maxSegmentBytes);
    put16(d, 34, 1); // total concurrent copies
    d[36] = 1; // maximum concurrent copies
    d[37] = 9; // data segment granularity: 512 bytes (log2)
    d[43] = 2;
    d[44] = TYPE_BLOCK_TO_BLOCK;
    d[45] = TYPE_IDENTIFICATION;
    return { dataOutLength: 0, run: () => truncate(d, alloc) };
  }
  if (sa !== 0x00) throw invalidField(1, 4);
  return {
    dataOutLength: 0,
    run: () => {
      const s = services.copyResults.get(ctx.nexus, listId);
      if (!s) throw invalidField(2);
      const d = new Uint8Array(12);
      put32(d, 0, 8);
      d[4] = s.ok ? 0x01 : 0x02; // completed, good / completed, with an error
      put16(d, 5, s.segmentsProcessed);
      d[7] = 0; // transfer count in bytes
      put32(d, 8, Math.min(s.bytes, 0xffffffff));
      return truncate(d, alloc);
    },
  };
}
