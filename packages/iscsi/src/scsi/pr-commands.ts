// PERSISTENT RESERVE IN / OUT (SPC-4 6.13, 6.14): CDB and parameter-list codecs over the state in
// reservations.ts. Side effects on other nexuses (unit attentions) and APTPL persistence happen here.
import { put16, put32, put64, u16, u32 } from "./cdb.js";
import { type CommandContext, type Prepared, requireLu, truncate } from "./command.js";
import type { LogicalUnit } from "./logical-unit.js";
import { isAllRegistrants, type PrSideEffect } from "./reservations.js";
import { Asc, illegalRequest, invalidField, invalidParameter } from "./sense.js";

export function nexusKeyOf(initiatorName: string, isid: string, relativeTargetPortId: number): string {
  return `${initiatorName.toLowerCase()},i,0x${isid.toLowerCase()}|${relativeTargetPortId}`;
}

function u64Big(b: Uint8Array, at: number): bigint {
  return (BigInt(u32(b, at)) << 32n) | BigInt(u32(b, at + 4));
}

export function persistentReserveIn(ctx: CommandContext): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  const sa = (cdb[1] ?? 0) & 0x1f;
  const alloc = u16(cdb, 7);
  if (sa > 3) throw invalidField(1, 4);
  return {
    dataOutLength: 0,
    run: () => truncate(prinData(lu, sa), alloc),
  };
}

function prinData(lu: LogicalUnit, sa: number): Uint8Array {
  const pr = lu.pr;
  switch (sa) {
    case 0: {
      const keys = [...pr.registrants.values()].map((r) => r.key);
      const d = new Uint8Array(8 + keys.length * 8);
      put32(d, 0, pr.generation);
      put32(d, 4, keys.length * 8);
      keys.forEach((k, i) => {
        put64(d, 8 + i * 8, k);
      });
      return d;
    }
    case 1: {
      const r = pr.reservation;
      const d = new Uint8Array(r ? 24 : 8);
      put32(d, 0, pr.generation);
      if (r) {
        put32(d, 4, 16);
        const key = isAllRegistrants(r.type) ? 0n : (pr.registrants.get(r.holder)?.key ?? 0n);
        put64(d, 8, key);
        d[21] = r.type & 0x0f;
      }
      return d;
    }
    case 2: {
      const d = new Uint8Array(8);
      put16(d, 0, 8);
      d[2] = 0x10 | 0x04 | 0x01; // CRH, ATP_C, PTPL_C
      d[3] = 0x80 | (pr.aptpl ? 0x01 : 0); // TMV, PTPL_A
      d[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
      d[5] = 0x01; // EX_AC_AR
      return d;
    }
    default: {
      const parts: Uint8Array[] = [];
      for (const reg of pr.registrants.values()) {
        const tid = transportId(reg.initiatorName, reg.isid);
        const desc = new Uint8Array(24 + tid.length);
        put64(desc, 0, reg.key);
        const holder = pr.isHolder(reg.nexus);
        desc[12] = holder ? 0x01 : 0;
        if (holder && pr.reservation) desc[13] = pr.reservation.type & 0x0f;
        put16(desc, 18, reg.relativeTargetPortId);
        put32(desc, 20, tid.length);
        desc.set(tid, 24);
        parts.push(desc);
      }
      const body = parts.reduce((n, p) => n + p.length, 0);
      const d = new Uint8Array(8 + body);
      put32(d, 0, pr.generation);
      put32(d, 4, body);
      let at = 8;
      for (const p of parts) {
        d.set(p, at);
        at += p.length;
      }
      return d;
    }
  }
}

/** iSCSI TransportID, format 01b: "name,i,0xISID", NUL terminated, padded to a multiple of 4. */
function transportId(initiatorName: string, isid: string): Uint8Array {
  const text = new TextEncoder().encode(`${initiatorName},i,0x${isid}`);
  const len = Math.max(20, Math.ceil((text.length + 1 + 4) / 4) * 4);
  const d = new Uint8Array(len);
  d[0] = 0x40 | 0x05;
  put16(d, 2, len - 4);
  d.set(text, 4);
  return d;
}

function parseTransportId(b: Uint8Array, at: number): { initiatorName: string; isid: string } {
  const proto = (b[at] ?? 0) & 0x0f;
  const format = (b[at] ?? 0) >> 6;
  if (proto !== 0x05 || format !== 1) throw invalidParameter(at);
  const len = u16(b, at + 2);
  const raw = b.subarray(at + 4, Math.min(b.length, at + 4 + len));
  const nul = raw.indexOf(0);
  const text = new TextDecoder().decode(nul >= 0 ? raw.subarray(0, nul) : raw);
  const m = /^(.+),i,0x([0-9a-fA-F]{12})$/.exec(text);
  if (!m || m[1] === undefined || m[2] === undefined) throw invalidParameter(at + 4);
  return { initiatorName: m[1], isid: m[2].toLowerCase() };
}

export function persistentReserveOut(ctx: CommandContext): Prepared {
  const lu = requireLu(ctx);
  const { cdb } = ctx;
  const sa = (cdb[1] ?? 0) & 0x1f;
  const scope = (cdb[2] ?? 0) >> 4;
  const type = (cdb[2] ?? 0) & 0x0f;
  const listLength = u32(cdb, 5);
  if (sa > 7) throw invalidField(1, 4);
  // Refuse oversized lists before collecting any data: 24 bytes, or 24 + one TransportID (MOVE).
  if (sa !== 7 ? listLength !== 24 : listLength < 24 || listLength > 24 + 4 + 256) {
    throw illegalRequest(Asc.parameterListLengthError);
  }
  const n = ctx.cmd.nexus;
  const me = {
    nexus: ctx.nexus,
    initiatorName: n.initiatorName,
    isid: n.isid.toLowerCase(),
    relativeTargetPortId: n.relativeTargetPortId,
  };
  return {
    dataOutLength: listLength,
    run: (list) => {
      if (sa !== 7 && list.length !== 24) throw illegalRequest(Asc.parameterListLengthError);
      if (sa === 7 && list.length < 24) throw illegalRequest(Asc.parameterListLengthError);
      const key = u64Big(list, 0);
      const saKey = u64Big(list, 8);
      const pr = lu.pr;
      let effects: PrSideEffect[] = [];
      if (sa !== 7) {
        const flags = list[20] ?? 0;
        if ((flags & 0x08) !== 0) throw invalidParameter(20, 3); // SPEC_I_PT not supported
        const aptpl = (flags & 0x01) !== 0;
        switch (sa) {
          case 0:
            effects = pr.register(me, key, saKey, false, aptpl);
            break;
          case 6:
            effects = pr.register(me, key, saKey, true, aptpl);
            break;
          case 1:
            pr.reserve(ctx.nexus, key, type, scope);
            break;
          case 2:
            effects = pr.release(ctx.nexus, key, type, scope);
            break;
          case 3:
            effects = pr.clear(ctx.nexus, key);
            break;
          default: {
            const result = pr.preempt(ctx.nexus, key, saKey, type, scope);
            effects = result.effects;
            if (sa === 5 && result.preempted.length > 0) ctx.port.abortTasks(lu.number, result.preempted);
            break;
          }
        }
      } else {
        const flags = list[17] ?? 0;
        const unreg = (flags & 0x02) !== 0;
        const aptpl = (flags & 0x01) !== 0;
        const rtpi = u16(list, 18);
        const tidLength = u32(list, 20);
        if (24 + tidLength > list.length) throw illegalRequest(Asc.parameterListLengthError);
        const tid = parseTransportId(list, 24);
        const target = {
          nexus: nexusKeyOf(tid.initiatorName, tid.isid, rtpi),
          initiatorName: tid.initiatorName,
          isid: tid.isid,
          relativeTargetPortId: rtpi,
        };
        pr.registerAndMove(ctx.nexus, key, saKey, target, unreg, aptpl);
      }
      for (const e of effects) lu.ua.establish(e.nexus, e.asc);
      lu.persistReservations();
      return undefined;
    },
  };
}
