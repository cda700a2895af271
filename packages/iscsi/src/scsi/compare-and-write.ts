// COMPARE AND WRITE and ORWRITE: read-compare-write as one step, on the backend's atomic
// compare-and-write (atomic across sessions and against every other write to those bytes).

import { checkNoProtection, checkRange, checkTransferLength, checkWritable, fuaOf } from "./block-checks.js";
import { blockRange, u64 } from "./cdb.js";
import { type CommandContext, type Prepared, requireLu } from "./command.js";
import { blockLimitsOf } from "./inquiry.js";
import { Asc, invalidField, SenseError, SenseKey } from "./sense.js";
import { TicketHolder } from "./tickets.js";

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
