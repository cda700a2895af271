// Thin provisioning (SBC-3 4.7): UNMAP, WRITE SAME (with UNMAP and NDOB) and GET LBA STATUS.

import { checkNoProtection, checkRange, checkWritable } from "./block-checks.js";
import { put32, put64, u16, u32, u64 } from "./cdb.js";
import { type CommandContext, type Prepared, requireLu, truncate } from "./command.js";
import { blockLimitsOf } from "./inquiry.js";
import {
  Asc,
  illegalRequest,
  invalidField,
  invalidParameter,
  lbaOutOfRange,
  SenseError,
  SenseKey,
} from "./sense.js";
import { TicketHolder } from "./tickets.js";

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
