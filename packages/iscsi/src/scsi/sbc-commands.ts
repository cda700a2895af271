// Block commands (SBC-3): capacity, reads, writes, verify, cache, provisioning and COMPARE AND
// WRITE. Writes take their backend ticket in prepare(), i.e. when the command arrives, so a live
// snapshot taken while data is still in flight treats them by arrival order.
import type { BackendTicket } from "./backend.js";
import { blockRange, put32, put64, u16, u32, u64 } from "./cdb.js";
import { type CommandContext, type Prepared, requireLu, truncate } from "./command.js";
import { blockLimitsOf } from "./inquiry.js";
import type { LogicalUnit } from "./logical-unit.js";
import {
  Asc,
  illegalRequest,
  invalidField,
  invalidParameter,
  lbaOutOfRange,
  SenseError,
  SenseKey,
} from "./sense.js";

export function checkRange(lu: LogicalUnit, lba: number, blocks: number): void {
  const capacity = lu.blocks;
  if (lba > capacity || lba + blocks > capacity) throw lbaOutOfRange();
}

export function checkWritable(lu: LogicalUnit): void {
  if (lu.backend.readOnly) throw new SenseError({ key: SenseKey.dataProtect, asc: Asc.writeProtected });
}

/** RDPROTECT/WRPROTECT/VRPROTECT: no protection information here, so only zero is valid. */
function checkNoProtection(cdb: Uint8Array): void {
  if (((cdb[1] ?? 0) & 0xe0) !== 0) throw invalidField(1, 7);
}

function transferLengthByte(cdb: Uint8Array): number {
  switch (cdb.length) {
    case 6:
      return 4;
    case 10:
      return 7;
    case 12:
      return 6;
    default:
      return 10;
  }
}

function checkTransferLength(lu: LogicalUnit, cdb: Uint8Array, blocks: number): void {
  if (blocks > blockLimitsOf(lu.backend).maxTransferBlocks) throw invalidField(transferLengthByte(cdb));
}

/** Admits one write range now and guarantees the ticket ends exactly once. */
class TicketHolder {
  #tickets: BackendTicket[];
  constructor(
    private readonly lu: LogicalUnit,
    tickets: BackendTicket[],
  ) {
    this.#tickets = tickets;
  }

  static admit(
    lu: LogicalUnit,
    offset: number,
    length: number,
    piece = Number.POSITIVE_INFINITY,
  ): TicketHolder {
    const tickets: BackendTicket[] = [];
    try {
      for (let at = offset; at < offset + length; at += piece) {
        tickets.push(lu.backend.admit(at, Math.min(piece, offset + length - at)));
      }
    } catch (err) {
      for (const t of tickets) lu.backend.cancel(t);
      throw err;
    }
    return new TicketHolder(lu, tickets);
  }

  /** Hands the tickets to the caller, who must end each one. */
  take(): BackendTicket[] {
    const t = this.#tickets;
    this.#tickets = [];
    return t;
  }

  cancel(): void {
    for (const t of this.take()) this.lu.backend.cancel(t);
  }
}

// --- READ CAPACITY ---

/** Logical blocks per physical block, as the log2 READ CAPACITY(16) reports. */
export function physicalBlockExponent(lu: LogicalUnit): number {
  const ratio = Math.floor((lu.backend.physicalBlockSize ?? lu.backend.blockSize) / lu.backend.blockSize);
  return ratio > 1 ? Math.min(15, Math.floor(Math.log2(ratio))) : 0;
}

export function readCapacity10(ctx: CommandContext): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  const pmi = ((cdb[8] ?? 0) & 0x01) !== 0;
  if (!pmi && u32(cdb, 2) !== 0) throw invalidField(2);
  const d = new Uint8Array(8);
  const last = lu.blocks - 1;
  put32(d, 0, last > 0xfffffffe ? 0xffffffff : Math.max(0, last));
  put32(d, 4, lu.backend.blockSize);
  return { dataOutLength: 0, run: () => d };
}

export function readCapacity16(ctx: CommandContext): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  const alloc = u32(cdb, 10);
  const d = new Uint8Array(32);
  put64(d, 0, Math.max(0, lu.blocks - 1));
  put32(d, 8, lu.backend.blockSize);
  d[13] = physicalBlockExponent(lu);
  if (lu.backend.thin) d[14] = 0xc0; // LBPME, LBPRZ
  return { dataOutLength: 0, run: () => truncate(d, alloc) };
}

// --- READ / WRITE ---

export function read(ctx: CommandContext): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  if (cdb.length !== 6) checkNoProtection(cdb);
  const { lba, blocks } = blockRange(cdb);
  checkTransferLength(lu, cdb, blocks);
  checkRange(lu, lba, blocks);
  const bs = lu.backend.blockSize;
  return {
    dataOutLength: 0,
    run: async () => (blocks === 0 ? undefined : lu.backend.read(lba * bs, blocks * bs)),
  };
}

function fuaOf(cdb: Uint8Array): boolean {
  return cdb.length !== 6 && ((cdb[1] ?? 0) & 0x08) !== 0;
}

/** WRITE 6/10/12/16 and WRITE AND VERIFY 10/12/16 (the verify is the forced write to stable storage). */
export function write(ctx: CommandContext, verify = false): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  if (cdb.length !== 6) checkNoProtection(cdb);
  if (verify && ((cdb[1] ?? 0) & 0x04) !== 0) throw invalidField(1, 2); // BYTCHK 10b/11b reserved here
  const { lba, blocks } = blockRange(cdb);
  checkWritable(lu);
  checkTransferLength(lu, cdb, blocks);
  checkRange(lu, lba, blocks);
  const bs = lu.backend.blockSize;
  const wanted = blocks * bs;
  // EDTL smaller than the CDB: write only the whole blocks the initiator sends (residual overflow).
  const effective = Math.min(blocks, Math.floor(ctx.cmd.expectedDataTransferLength / bs));
  const holder = effective > 0 ? TicketHolder.admit(lu, lba * bs, effective * bs) : undefined;
  const fua = verify || fuaOf(cdb);
  return {
    dataOutLength: wanted,
    cancel: () => holder?.cancel(),
    run: async (data) => {
      if (!holder) return undefined;
      const [ticket] = holder.take();
      if (!ticket) return undefined;
      if (data.length < ticket.length) {
        lu.backend.cancel(ticket);
        throw new SenseError({ key: SenseKey.abortedCommand, asc: 0x4b00 }); // DATA PHASE ERROR
      }
      await lu.backend.write(ticket, data.subarray(0, ticket.length), {
        fua: fua || !lu.modes.writeCacheEnabled,
      });
      return undefined;
    },
  };
}

export function verify(ctx: CommandContext): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  checkNoProtection(cdb);
  const bytchk = ((cdb[1] ?? 0) >> 1) & 0x03;
  if (bytchk === 2) throw invalidField(1, 2);
  const { lba, blocks } = blockRange(cdb);
  checkTransferLength(lu, cdb, blocks);
  checkRange(lu, lba, blocks);
  const bs = lu.backend.blockSize;
  const dataOutLength = bytchk === 0 || blocks === 0 ? 0 : bytchk === 1 ? blocks * bs : bs;
  return {
    dataOutLength,
    run: async (data) => {
      if (blocks === 0) return undefined;
      const stored = await lu.backend.read(lba * bs, blocks * bs);
      if (bytchk === 0) return undefined;
      for (let i = 0; i < stored.length; i++) {
        const expected = bytchk === 1 ? data[i] : data[i % bs];
        if (stored[i] !== expected) {
          throw new SenseError({ key: SenseKey.miscompare, asc: Asc.miscompareDuringVerify, information: i });
        }
      }
      return undefined;
    },
  };
}

export function synchronizeCache(ctx: CommandContext): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  const sixteen = cdb.length === 16;
  const lba = sixteen ? u64(cdb, 2) : u32(cdb, 2);
  const blocks = sixteen ? u32(cdb, 10) : u16(cdb, 7);
  checkRange(lu, lba, blocks);
  return {
    dataOutLength: 0,
    run: async () => {
      await lu.backend.flush();
      return undefined;
    },
  };
}

export function prefetch(ctx: CommandContext): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  const sixteen = cdb.length === 16;
  const lba = sixteen ? u64(cdb, 2) : u32(cdb, 2);
  const blocks = sixteen ? u32(cdb, 10) : u16(cdb, 7);
  checkRange(lu, lba, blocks);
  return { dataOutLength: 0, run: () => undefined };
}

// --- thin provisioning ---

export function unmap(ctx: CommandContext): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  if (((cdb[1] ?? 0) & 0x01) !== 0) throw invalidField(1, 0); // ANCHOR: no anchored state
  checkWritable(lu);
  const listLength = u16(cdb, 7);
  const limits = blockLimitsOf(lu.backend);
  const bs = lu.backend.blockSize;
  return {
    dataOutLength: listLength,
    run: async (list) => {
      if (list.length === 0) return undefined;
      if (list.length < 8) throw illegalRequest(Asc.parameterListLengthError);
      const descLength = Math.min(u16(list, 2), list.length - 8);
      const count = Math.floor(descLength / 16);
      if (count > limits.maxUnmapDescriptors) throw invalidParameter(2);
      const ranges: { lba: number; blocks: number }[] = [];
      let total = 0;
      for (let i = 0; i < count; i++) {
        const at = 8 + i * 16;
        const lba = u64(list, at);
        const blocks = u32(list, at + 8);
        checkRange(lu, lba, blocks);
        total += blocks;
        if (blocks > 0) ranges.push({ lba, blocks });
      }
      if (total > limits.maxUnmapBlocks) throw invalidParameter(8 + 8);
      // The ranges are only known once the parameter list arrived: they are admitted now.
      for (const r of ranges) {
        const [ticket] = TicketHolder.admit(lu, r.lba * bs, r.blocks * bs).take();
        if (ticket) await lu.backend.unmap(ticket);
      }
      return undefined;
    },
  };
}

const WRITE_SAME_PIECE = 16 * 1024 * 1024;

export function writeSame(ctx: CommandContext): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  const sixteen = cdb.length === 16;
  checkNoProtection(cdb);
  const b1 = cdb[1] ?? 0;
  if ((b1 & 0x10) !== 0) throw invalidField(1, 4); // ANCHOR
  const unmapBit = (b1 & 0x08) !== 0;
  if (!sixteen && (b1 & 0x07) !== 0) throw invalidField(1, 2); // PBDATA/LBDATA (obsolete), reserved
  if (sixteen && (b1 & 0x06) !== 0) throw invalidField(1, 2);
  const ndob = sixteen && (b1 & 0x01) !== 0;
  if (unmapBit && !lu.backend.thin) throw invalidField(1, 3);
  checkWritable(lu);
  const lba = sixteen ? u64(cdb, 2) : u32(cdb, 2);
  let blocks = sixteen ? u32(cdb, 10) : u16(cdb, 7);
  const capacity = lu.blocks;
  if (lba > capacity) throw lbaOutOfRange();
  if (blocks === 0) blocks = capacity - lba; // WSNZ=0: to the end of the medium
  checkRange(lu, lba, blocks);
  const bs = lu.backend.blockSize;
  const limit = blockLimitsOf(lu.backend).maxWriteSameBlocks;
  if (limit > 0 && blocks > limit) throw invalidField(sixteen ? 10 : 7);
  // The Data-Out is exactly one block (none with NDOB).
  if (ctx.cmd.expectedDataTransferLength !== (ndob ? 0 : bs)) throw invalidField(sixteen ? 10 : 7);
  const holder = blocks > 0 ? TicketHolder.admit(lu, lba * bs, blocks * bs, WRITE_SAME_PIECE) : undefined;
  return {
    dataOutLength: ndob ? 0 : bs,
    cancel: () => holder?.cancel(),
    run: async (data) => {
      if (!holder) return undefined;
      const tickets = holder.take();
      const pattern = ndob ? new Uint8Array(bs) : data.subarray(0, bs);
      if (pattern.length < bs) {
        for (const t of tickets) lu.backend.cancel(t);
        throw new SenseError({ key: SenseKey.abortedCommand, asc: 0x4b00 });
      }
      // UNMAP=1 deallocates whatever the pattern (what libiscsi and Linux expect); reads return zeros (LBPRZ).
      const zero = unmapBit || pattern.every((b) => b === 0);
      const fua = !lu.modes.writeCacheEnabled;
      let i = 0;
      try {
        for (; i < tickets.length; i++) {
          const t = tickets[i]!;
          if (zero) {
            await lu.backend.writeZeroes(t, { unmap: unmapBit });
          } else {
            const buf = new Uint8Array(t.length);
            for (let at = 0; at < buf.length; at += bs) buf.set(pattern, at);
            await lu.backend.write(t, buf, { fua });
          }
        }
      } finally {
        // A failed piece ended its own ticket; the ones after it never ran.
        for (let j = i + 1; j < tickets.length; j++) lu.backend.cancel(tickets[j]!);
      }
      return undefined;
    },
  };
}

export function compareAndWrite(ctx: CommandContext): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  checkNoProtection(cdb);
  const lba = u64(cdb, 2);
  const blocks = cdb[13] ?? 0;
  checkWritable(lu);
  if (blocks > blockLimitsOf(lu.backend).maxCompareAndWriteBlocks) throw invalidField(13);
  checkRange(lu, lba, blocks);
  const bs = lu.backend.blockSize;
  const length = blocks * bs;
  // The Data-Out must be exactly the compare and the write buffers (also for 0 blocks: the byte
  // cannot say 256, so a 256-block request arrives as 0 with a 256-block EDTL).
  if (ctx.cmd.expectedDataTransferLength !== 2 * length) throw invalidField(13);
  const fua = fuaOf(cdb);
  const holder = blocks > 0 ? TicketHolder.admit(lu, lba * bs, length) : undefined;
  return {
    dataOutLength: 2 * length,
    cancel: () => holder?.cancel(),
    run: async (data) => {
      if (!holder) return undefined;
      const [ticket] = holder.take();
      if (!ticket) return undefined;
      if (data.length < 2 * length) {
        lu.backend.cancel(ticket);
        throw new SenseError({ key: SenseKey.abortedCommand, asc: 0x4b00 });
      }
      const result = await lu.backend.compareAndWrite(
        ticket,
        data.subarray(0, length),
        data.subarray(length, 2 * length),
      );
      // The engine's compare-and-write has no FUA of its own: FUA (or WCE=0) flushes after it.
      if (result.ok && (fua || !lu.modes.writeCacheEnabled)) await lu.backend.flush();
      if (!result.ok) {
        throw new SenseError({
          key: SenseKey.miscompare,
          asc: Asc.miscompareDuringVerify,
          information: result.mismatchOffset,
        });
      }
      return undefined;
    },
  };
}

const LBA_STATUS_QUERY_BYTES = 1024 * 1024 * 1024;

export function getLbaStatus(ctx: CommandContext): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  const lba = u64(cdb, 2);
  const alloc = u32(cdb, 10);
  const capacity = lu.blocks;
  if (lba >= capacity) throw lbaOutOfRange();
  const bs = lu.backend.blockSize;
  return {
    dataOutLength: 0,
    run: () => {
      const maxDescriptors = Math.max(1, Math.floor((Math.max(alloc, 24) - 8) / 16));
      const start = lba * bs;
      const length = Math.min((capacity - lba) * bs, LBA_STATUS_QUERY_BYTES);
      const merged: { lba: number; blocks: number; mapped: boolean }[] = [];
      for (const r of lu.backend.lbaStatus(start, length)) {
        const from = Math.max(r.offset, start);
        const to = Math.min(r.offset + r.length, start + length);
        if (to <= from) continue;
        const first = Math.floor(from / bs);
        const last = Math.ceil(to / bs);
        const prev = merged[merged.length - 1];
        if (prev && prev.mapped === r.mapped && prev.lba + prev.blocks >= first) {
          prev.blocks = Math.max(prev.blocks, last - prev.lba);
        } else {
          merged.push({ lba: first, blocks: last - first, mapped: r.mapped });
        }
      }
      if (merged.length === 0) merged.push({ lba, blocks: length / bs, mapped: true });
      const descriptors = merged.slice(0, maxDescriptors);
      const d = new Uint8Array(8 + descriptors.length * 16);
      put32(d, 0, d.length - 4);
      descriptors.forEach((x, i) => {
        const at = 8 + i * 16;
        put64(d, at, x.lba);
        put32(d, at + 8, Math.min(x.blocks, 0xffffffff));
        d[at + 12] = x.mapped ? 0 : 1;
      });
      return truncate(d, alloc);
    },
  };
}

/**
 * ORWRITE(16): new = stored OR data. Runs as COMPARE AND WRITE against what was read, so a write
 * racing between the read and the update is never lost; on such a race it retries with a new ticket.
 */
export function orWrite(ctx: CommandContext): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  checkNoProtection(cdb);
  const { lba, blocks } = blockRange(cdb);
  checkWritable(lu);
  checkTransferLength(lu, cdb, blocks);
  checkRange(lu, lba, blocks);
  const bs = lu.backend.blockSize;
  const length = blocks * bs;
  const holder = blocks > 0 ? TicketHolder.admit(lu, lba * bs, length) : undefined;
  return {
    dataOutLength: length,
    cancel: () => holder?.cancel(),
    run: async (data) => {
      if (!holder) return undefined;
      let [ticket] = holder.take();
      if (data.length < length) {
        if (ticket) lu.backend.cancel(ticket);
        throw new SenseError({ key: SenseKey.abortedCommand, asc: 0x4b00 });
      }
      for (let attempt = 0; ticket; attempt++) {
        let stored: Uint8Array;
        try {
          stored = await lu.backend.read(lba * bs, length);
        } catch (err) {
          lu.backend.cancel(ticket);
          throw err;
        }
        const next = new Uint8Array(length);
        for (let i = 0; i < length; i++) next[i] = (stored[i] ?? 0) | (data[i] ?? 0);
        const result = await lu.backend.compareAndWrite(ticket, stored, next);
        if (result.ok) {
          if (fuaOf(cdb) || !lu.modes.writeCacheEnabled) await lu.backend.flush();
          return undefined;
        }
        if (attempt >= 16) throw new SenseError({ key: SenseKey.abortedCommand, asc: 0x0000 });
        ticket = lu.backend.admit(lba * bs, length);
      }
      return undefined;
    },
  };
}

/** READ DEFECT DATA(10)/(12): a virtual disk has no defects; the list is empty in the format asked. */
export function readDefectData(ctx: CommandContext): Prepared {
  requireLu(ctx);
  const { cdb } = ctx;
  const twelve = cdb.length === 12;
  const flags = (twelve ? cdb[1] : cdb[2]) ?? 0;
  const alloc = twelve ? u32(cdb, 6) : u16(cdb, 7);
  const d = new Uint8Array(twelve ? 8 : 4);
  d[1] = flags & 0x1f; // PLISTV, GLISTV, DEFECT LIST FORMAT echoed: both lists valid and empty
  return { dataOutLength: 0, run: () => truncate(d, alloc) };
}
