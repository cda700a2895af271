// Primary commands (SPC-4) that every logical unit answers: TEST UNIT READY, INQUIRY, REQUEST
// SENSE, REPORT LUNS, MODE SENSE/SELECT, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL,
// RESERVE/RELEASE and REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS.
import { put16, put32, u16, u32 } from "./cdb.js";
import { type CommandContext, immediate, type Prepared, requireLu, truncate } from "./command.js";
import { SUPPORTED_VPD_PAGES, standardInquiry, vpdPage } from "./inquiry.js";
import type { LogicalUnit } from "./logical-unit.js";
import type { PageControl } from "./mode-pages.js";
import {
  Asc,
  encodeSense,
  illegalRequest,
  invalidField,
  invalidParameter,
  SenseError,
  SenseKey,
} from "./sense.js";

export function testUnitReady(): Prepared {
  return immediate();
}

export function inquiry(ctx: CommandContext): Prepared {
  const { cdb } = ctx;
  const evpd = ((cdb[1] ?? 0) & 0x01) !== 0;
  if (((cdb[1] ?? 0) & 0x02) !== 0) throw invalidField(1, 1); // CMDDT is obsolete
  const pageCode = cdb[2] ?? 0;
  const alloc = u16(cdb, 3);
  if (!evpd) {
    if (pageCode !== 0) throw invalidField(2);
    return immediate(truncate(standardInquiry(ctx.lu?.backend, ctx.port.identity), alloc));
  }
  if (!ctx.lu) throw illegalRequest(Asc.logicalUnitNotSupported);
  const page = vpdPage(pageCode, ctx.lu.backend, ctx.cmd.nexus);
  if (!page || !SUPPORTED_VPD_PAGES.includes(pageCode)) throw invalidField(2);
  return immediate(truncate(page, alloc));
}

/** Sense data REQUEST SENSE returns: a pending unit attention (consumed), else NO SENSE. */
export function requestSense(ctx: CommandContext): Prepared {
  const { cdb } = ctx;
  const desc = ((cdb[1] ?? 0) & 0x01) !== 0;
  const alloc = cdb[4] ?? 0;
  const lu = ctx.lu;
  if (!lu) {
    return immediate(
      truncate(encodeSense({ key: SenseKey.illegalRequest, asc: Asc.logicalUnitNotSupported }, desc), alloc),
    );
  }
  return {
    dataOutLength: 0,
    run: () => {
      const ua = lu.ua.take(ctx.nexus);
      const sense =
        ua === undefined
          ? encodeSense({ key: SenseKey.noSense, asc: Asc.noAdditionalSense }, desc)
          : encodeSense({ key: SenseKey.unitAttention, asc: ua }, desc);
      return truncate(sense, alloc);
    },
  };
}

export function reportLuns(ctx: CommandContext): Prepared {
  const { cdb } = ctx;
  const select = cdb[2] ?? 0;
  if (select > 0x02) throw invalidField(2);
  const alloc = u32(cdb, 6);
  const luns = ctx.port.luns();
  const d = new Uint8Array(8 + luns.length * 8);
  put32(d, 0, luns.length * 8);
  luns.forEach((lun, i) => {
    const at = 8 + i * 8;
    if (lun < 256) {
      d[at + 1] = lun;
    } else {
      // Flat space addressing for LUNs 256..16383.
      d[at] = 0x40 | ((lun >> 8) & 0x3f);
      d[at + 1] = lun & 0xff;
    }
  });
  return {
    dataOutLength: 0,
    run: () => {
      ctx.lu?.ua.clear(ctx.nexus, Asc.reportedLunsDataHasChanged);
      return truncate(d, alloc);
    },
  };
}

// --- MODE SENSE / MODE SELECT ---

function pageControl(b: number): PageControl {
  return (["current", "changeable", "default", "saved"] as const)[(b >> 6) & 0x03] ?? "current";
}

function modeSense(ctx: CommandContext, ten: boolean): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  const dbd = ((cdb[1] ?? 0) & 0x08) !== 0;
  const llbaa = ten && ((cdb[1] ?? 0) & 0x10) !== 0;
  const pc = pageControl(cdb[2] ?? 0);
  const pageCode = (cdb[2] ?? 0) & 0x3f;
  const subpage = cdb[3] ?? 0;
  const alloc = ten ? u16(cdb, 7) : (cdb[4] ?? 0);
  if (pc === "saved") throw illegalRequest(Asc.savingParametersNotSupported);
  let pages: Uint8Array[];
  if (pageCode === 0x3f) {
    if (subpage !== 0 && subpage !== 0xff) throw invalidField(3);
    pages = lu.modes.all(pc);
  } else {
    if (!lu.modes.has(pageCode)) throw invalidField(2, 5);
    if (subpage !== 0) throw invalidField(3);
    pages = [lu.modes.page(pageCode, pc)];
  }
  const blockDesc = dbd ? new Uint8Array(0) : blockDescriptor(lu, llbaa);
  const headerLen = ten ? 8 : 4;
  const body = pages.reduce((n, p) => n + p.length, 0);
  const d = new Uint8Array(headerLen + blockDesc.length + body);
  const deviceSpecific = (lu.backend.readOnly ? 0x80 : 0) | 0x10; // WP, DPOFUA
  if (ten) {
    put16(d, 0, d.length - 2);
    d[3] = deviceSpecific;
    d[4] = llbaa && blockDesc.length > 0 ? 0x01 : 0;
    put16(d, 6, blockDesc.length);
  } else {
    d[0] = Math.min(255, d.length - 1);
    d[2] = deviceSpecific;
    d[3] = blockDesc.length;
  }
  d.set(blockDesc, headerLen);
  let at = headerLen + blockDesc.length;
  for (const p of pages) {
    d.set(p, at);
    at += p.length;
  }
  return immediate(truncate(d, alloc));
}

function blockDescriptor(lu: LogicalUnit, long: boolean): Uint8Array {
  const blocks = lu.blocks;
  if (long) {
    const d = new Uint8Array(16);
    put32(d, 0, Math.floor(blocks / 0x100000000));
    put32(d, 4, blocks >>> 0);
    put32(d, 12, lu.backend.blockSize);
    return d;
  }
  const d = new Uint8Array(8);
  put32(d, 0, Math.min(blocks, 0xffffffff));
  d[5] = (lu.backend.blockSize >> 16) & 0xff;
  d[6] = (lu.backend.blockSize >> 8) & 0xff;
  d[7] = lu.backend.blockSize & 0xff;
  return d;
}

export const modeSense6 = (ctx: CommandContext) => modeSense(ctx, false);
export const modeSense10 = (ctx: CommandContext) => modeSense(ctx, true);

function modeSelect(ctx: CommandContext, ten: boolean): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  if (((cdb[1] ?? 0) & 0x01) !== 0) throw invalidField(1, 0); // SP: nothing can be saved
  const listLength = ten ? u16(cdb, 7) : (cdb[4] ?? 0);
  const headerLen = ten ? 8 : 4;
  return {
    dataOutLength: listLength,
    run: (list) => {
      if (list.length === 0) return undefined;
      if (list.length < headerLen) throw illegalRequest(Asc.parameterListLengthError);
      const bdLen = ten ? u16(list, 6) : (list[3] ?? 0);
      if (bdLen !== 0 && bdLen !== 8 && bdLen !== 16) throw invalidParameter(ten ? 6 : 3);
      if (headerLen + bdLen > list.length) throw illegalRequest(Asc.parameterListLengthError);
      if (bdLen > 0) {
        const bd = list.subarray(headerLen, headerLen + bdLen);
        const blockLength = bdLen === 16 ? u32(bd, 12) : ((bd[5] ?? 0) << 16) | u16(bd, 6);
        if (blockLength !== lu.backend.blockSize) throw invalidParameter(headerLen + bdLen - 3);
      }
      const changed = lu.modes.select(list, headerLen + bdLen);
      if (changed) lu.ua.establishAll(ctx.port.nexuses(), Asc.modeParametersChanged, ctx.nexus);
      return undefined;
    },
  };
}

export const modeSelect6 = (ctx: CommandContext) => modeSelect(ctx, false);
export const modeSelect10 = (ctx: CommandContext) => modeSelect(ctx, true);

export function startStopUnit(ctx: CommandContext): Prepared {
  const { cdb } = ctx;
  const b4 = cdb[4] ?? 0;
  const loej = (b4 & 0x02) !== 0;
  const start = (b4 & 0x01) !== 0;
  const powerCondition = b4 >> 4;
  // Not removable: there is no medium to load or eject.
  if (powerCondition === 0 && loej && !start) throw invalidField(4, 1);
  return immediate();
}

export function preventAllowMediumRemoval(): Prepared {
  return immediate();
}

export function reserve(ctx: CommandContext, ten: boolean): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  if (ten && ((cdb[1] ?? 0) & 0x12) !== 0) throw invalidField(1, (cdb[1] ?? 0) & 0x10 ? 4 : 1); // 3RDPTY, LONGID
  return {
    dataOutLength: 0,
    run: () => {
      lu.pr.reserve6(ctx.nexus);
      return undefined;
    },
  };
}

export function release(ctx: CommandContext, ten: boolean): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  if (ten && ((cdb[1] ?? 0) & 0x12) !== 0) throw invalidField(1, (cdb[1] ?? 0) & 0x10 ? 4 : 1);
  return {
    dataOutLength: 0,
    run: () => {
      lu.pr.release6(ctx.nexus);
      return undefined;
    },
  };
}

export function reportSupportedTmfs(ctx: CommandContext): Prepared {
  const { cdb } = ctx;
  const repd = ((cdb[2] ?? 0) & 0x80) !== 0;
  const alloc = u32(cdb, 6);
  const d = new Uint8Array(repd ? 16 : 4);
  // ABORT TASK, ABORT TASK SET, CLEAR TASK SET, LOGICAL UNIT RESET, TARGET RESET.
  d[0] = 0x80 | 0x40 | 0x10 | 0x08 | 0x02;
  if (repd) d[3] = 0x0c;
  return immediate(truncate(d, alloc));
}

export function unsupported(byte = 0): SenseError {
  return byte === 0
    ? new SenseError({
        key: SenseKey.illegalRequest,
        asc: Asc.invalidCommandOperationCode,
        field: { inCdb: true, byte: 0 },
      })
    : invalidField(byte);
}
