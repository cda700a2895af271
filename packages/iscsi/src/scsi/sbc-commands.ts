// Block commands (SBC-3/SBC-4): capacity, reads, writes, verify, cache and defect data. Writes take
// their backend ticket in prepare(), i.e. when the command arrives, so a live snapshot taken while
// data is still in flight treats them by arrival order.

import { checkNoProtection, checkRange, checkTransferLength, checkWritable, fuaOf } from "./block-checks.js";
import { blockRange, put32, put64, u16, u32, u64 } from "./cdb.js";
import { type CommandContext, type Prepared, requireLu, truncate } from "./command.js";
import { blockLimitsOf } from "./inquiry.js";
import type { LogicalUnit } from "./logical-unit.js";
import { Asc, invalidField, invalidOpcode, SenseError, SenseKey } from "./sense.js";
import { TicketHolder } from "./tickets.js";

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
  const length = blocks * bs;
  return {
    dataOutLength: 0,
    // Into the transport's recycled buffer when it offers one: a fresh 128 KiB per read is what
    // made V8 run a full GC every few hundred reads.
    run: async (_, dataIn) =>
      length === 0 ? undefined : lu.backend.read(lba * bs, length, dataIn?.dataInBuffer(length)),
  };
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

/**
 * WRITE ATOMIC(16) (SBC-4): the range is written entirely or not at all, also across a crash. The
 * command table offers it only on backends with atomic writes (supportsAtomicWrite). Checks run in
 * the order libiscsi's WriteAtomic16 tests expect: LBA OUT OF RANGE before the length limits.
 */
export function writeAtomic(ctx: CommandContext): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  const limits = blockLimitsOf(lu.backend);
  const atomicWrite = lu.backend.writeAtomic?.bind(lu.backend);
  // Unreachable through the command table; keeps the handler honest on its own.
  if (!atomicWrite || limits.maxAtomicTransferBlocks === 0) throw invalidOpcode();
  checkNoProtection(cdb);
  checkWritable(lu);
  const lba = u64(cdb, 2);
  const boundary = u16(cdb, 10);
  const blocks = u16(cdb, 12);
  checkRange(lu, lba, blocks);
  if (boundary !== 0) throw invalidField(10); // MAXIMUM ATOMIC BOUNDARY SIZE is 0
  if (blocks === 0) return { dataOutLength: 0, run: () => undefined };
  if (lba % limits.atomicAlignmentBlocks !== 0) throw invalidField(2);
  if (blocks % limits.atomicGranularityBlocks !== 0 || blocks > limits.maxAtomicTransferBlocks) {
    throw invalidField(12);
  }
  const bs = lu.backend.blockSize;
  const length = blocks * bs;
  // All or nothing: unlike WRITE, a short EDTL (residual overflow) cannot write the blocks that did
  // arrive, so it is refused, as COMPARE AND WRITE refuses a Data-Out of the wrong size.
  if (ctx.cmd.expectedDataTransferLength < length) throw invalidField(12);
  const holder = TicketHolder.admit(lu, lba * bs, length);
  const fua = fuaOf(cdb) || !lu.modes.writeCacheEnabled;
  return {
    dataOutLength: length,
    cancel: () => holder.cancel(),
    run: async (data) => {
      const [ticket] = holder.take();
      if (!ticket) return undefined;
      if (data.length < length) {
        lu.backend.cancel(ticket);
        throw new SenseError({ key: SenseKey.abortedCommand, asc: 0x4b00 }); // DATA PHASE ERROR
      }
      await atomicWrite(ticket, data.subarray(0, length), { fua });
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
