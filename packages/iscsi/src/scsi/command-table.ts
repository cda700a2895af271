// Every supported command: opcode, service action, CDB usage map, reservation class and handler.
// The usage maps serve twice: REPORT SUPPORTED OPERATION CODES returns them, and admission rejects
// any CDB that sets a bit outside them (INVALID FIELD IN CDB pointing at that bit).
import { put16, put32, u16, u32 } from "./cdb.js";
import { type CommandContext, type CommandSpec, immediate, type Prepared, truncate } from "./command.js";
import { compareAndWrite, orWrite } from "./compare-and-write.js";
import { extendedCopy, receiveCopyResults } from "./extended-copy.js";
import { supportsAtomicWrite } from "./inquiry.js";
import type { LogicalUnit } from "./logical-unit.js";
import { persistentReserveIn, persistentReserveOut } from "./pr-commands.js";
import { getLbaStatus, unmap, writeSame } from "./provisioning-commands.js";
import {
  prefetch,
  read,
  readCapacity10,
  readCapacity16,
  readDefectData,
  synchronizeCache,
  verify,
  write,
  writeAtomic,
} from "./sbc-commands.js";
import { invalidField } from "./sense.js";
import {
  inquiry,
  modeSelect6,
  modeSelect10,
  modeSense6,
  modeSense10,
  preventAllowMediumRemoval,
  release,
  reportLuns,
  reportSupportedTmfs,
  requestSense,
  reserve,
  startStopUnit,
  testUnitReady,
} from "./spc-commands.js";

const C = 0x07; // control byte: NACA and LINK are examined (and refused when set)
const ff4 = [0xff, 0xff, 0xff, 0xff];
const ff8 = [...ff4, ...ff4];

const rw10 = (op: number, flags: number) => [op, flags, ...ff4, 0x3f, 0xff, 0xff, C];
const rw12 = (op: number, flags: number) => [op, flags, ...ff4, ...ff4, 0x3f, C];
const rw16 = (op: number, flags: number) => [op, flags, ...ff8, ...ff4, 0x3f, C];

const READ_FLAGS = 0xfe; // RDPROTECT, DPO, FUA, RARC, FUA_NV
const WRITE_FLAGS = 0xfa; // WRPROTECT, DPO, FUA, FUA_NV
const WRITE_VERIFY_FLAGS = 0xf2; // WRPROTECT, DPO, BYTCHK
const VERIFY_FLAGS = 0xf6; // VRPROTECT, DPO, BYTCHK (2 bits)

export const COMMANDS: readonly CommandSpec[] = [
  {
    opcode: 0x00,
    name: "TEST UNIT READY",
    usage: [0x00, 0, 0, 0, 0, C],
    access: "metadata",
    prepare: testUnitReady,
  },
  {
    opcode: 0x03,
    name: "REQUEST SENSE",
    usage: [0x03, 0x01, 0, 0, 0xff, C],
    access: "always",
    ignoresUnitAttention: true,
    anyLun: true,
    prepare: requestSense,
  },
  { opcode: 0x08, name: "READ(6)", usage: [0x08, 0x1f, 0xff, 0xff, 0xff, C], access: "read", prepare: read },
  {
    opcode: 0x0a,
    name: "WRITE(6)",
    usage: [0x0a, 0x1f, 0xff, 0xff, 0xff, C],
    access: "write",
    prepare: (ctx) => write(ctx),
  },
  {
    opcode: 0x12,
    name: "INQUIRY",
    usage: [0x12, 0x01, 0xff, 0xff, 0xff, C],
    access: "always",
    ignoresUnitAttention: true,
    anyLun: true,
    prepare: inquiry,
  },
  {
    opcode: 0x15,
    name: "MODE SELECT(6)",
    usage: [0x15, 0x11, 0, 0, 0xff, C],
    access: "write",
    prepare: modeSelect6,
  },
  {
    opcode: 0x16,
    name: "RESERVE(6)",
    usage: [0x16, 0, 0, 0, 0, C],
    access: "write",
    prepare: (ctx) => reserve(ctx, false),
  },
  {
    opcode: 0x17,
    name: "RELEASE(6)",
    usage: [0x17, 0, 0, 0, 0, C],
    access: "spc2-release",
    prepare: (ctx) => release(ctx, false),
  },
  {
    opcode: 0x1a,
    name: "MODE SENSE(6)",
    usage: [0x1a, 0x08, 0xff, 0xff, 0xff, C],
    access: "metadata",
    prepare: modeSense6,
  },
  {
    opcode: 0x1b,
    name: "START STOP UNIT",
    usage: [0x1b, 0x01, 0, 0x0f, 0xf7, C],
    access: "write",
    prepare: startStopUnit,
  },
  {
    opcode: 0x1e,
    name: "PREVENT ALLOW MEDIUM REMOVAL",
    usage: [0x1e, 0, 0, 0, 0x03, C],
    access: "read",
    prepare: preventAllowMediumRemoval,
  },
  {
    opcode: 0x25,
    name: "READ CAPACITY(10)",
    usage: [0x25, 0, ...ff4, 0, 0, 0x01, C],
    access: "always",
    prepare: readCapacity10,
  },
  { opcode: 0x28, name: "READ(10)", usage: rw10(0x28, READ_FLAGS), access: "read", prepare: read },
  {
    opcode: 0x2a,
    name: "WRITE(10)",
    usage: rw10(0x2a, WRITE_FLAGS),
    access: "write",
    prepare: (ctx) => write(ctx),
  },
  {
    opcode: 0x2e,
    name: "WRITE AND VERIFY(10)",
    usage: rw10(0x2e, WRITE_VERIFY_FLAGS),
    access: "write",
    prepare: (ctx) => write(ctx, true),
  },
  { opcode: 0x2f, name: "VERIFY(10)", usage: rw10(0x2f, VERIFY_FLAGS), access: "read", prepare: verify },
  { opcode: 0x34, name: "PRE-FETCH(10)", usage: rw10(0x34, 0x02), access: "read", prepare: prefetch },
  {
    opcode: 0x35,
    name: "SYNCHRONIZE CACHE(10)",
    usage: rw10(0x35, 0x06),
    access: "write",
    timeoutSeconds: 60,
    prepare: synchronizeCache,
  },
  {
    opcode: 0x37,
    name: "READ DEFECT DATA(10)",
    usage: [0x37, 0, 0x1f, 0, 0, 0, 0, 0xff, 0xff, C],
    access: "read",
    prepare: readDefectData,
  },
  { opcode: 0x41, name: "WRITE SAME(10)", usage: rw10(0x41, 0xf8), access: "write", prepare: writeSame },
  {
    opcode: 0x42,
    name: "UNMAP",
    usage: [0x42, 0x01, 0, 0, 0, 0, 0x3f, 0xff, 0xff, C],
    access: "write",
    prepare: unmap,
  },
  {
    opcode: 0x55,
    name: "MODE SELECT(10)",
    usage: [0x55, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, C],
    access: "write",
    prepare: modeSelect10,
  },
  {
    opcode: 0x56,
    name: "RESERVE(10)",
    usage: [0x56, 0, 0, 0, 0, 0, 0, 0, 0, C],
    access: "write",
    prepare: (ctx) => reserve(ctx, true),
  },
  {
    opcode: 0x57,
    name: "RELEASE(10)",
    usage: [0x57, 0, 0, 0, 0, 0, 0, 0, 0, C],
    access: "spc2-release",
    prepare: (ctx) => release(ctx, true),
  },
  {
    opcode: 0x5a,
    name: "MODE SENSE(10)",
    usage: [0x5a, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, C],
    access: "metadata",
    prepare: modeSense10,
  },
  ...[0, 1, 2, 3].map(
    (sa): CommandSpec => ({
      opcode: 0x5e,
      serviceAction: sa,
      name: "PERSISTENT RESERVE IN",
      usage: [0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, C],
      access: "pr",
      prepare: persistentReserveIn,
    }),
  ),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map(
    (sa): CommandSpec => ({
      opcode: 0x5f,
      serviceAction: sa,
      name: "PERSISTENT RESERVE OUT",
      usage: [0x5f, 0x1f, 0xff, 0, 0, ...ff4, C],
      access: "pr",
      prepare: persistentReserveOut,
    }),
  ),
  {
    opcode: 0x83,
    serviceAction: 0x00,
    name: "EXTENDED COPY(LID1)",
    usage: [0x83, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, ...ff4, 0, C],
    access: "write",
    timeoutSeconds: 120,
    prepare: (ctx) => extendedCopy(ctx, ctx.port),
  },
  ...[0x00, 0x03].map(
    (sa): CommandSpec => ({
      opcode: 0x84,
      serviceAction: sa,
      name: "RECEIVE COPY RESULTS",
      usage: [0x84, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, ...ff4, 0, C],
      access: "read",
      prepare: (ctx) => receiveCopyResults(ctx, ctx.port),
    }),
  ),
  { opcode: 0x88, name: "READ(16)", usage: rw16(0x88, READ_FLAGS), access: "read", prepare: read },
  {
    opcode: 0x89,
    name: "COMPARE AND WRITE",
    usage: [0x89, 0xfa, ...ff8, 0, 0, 0, 0xff, 0x3f, C],
    access: "write",
    prepare: compareAndWrite,
  },
  {
    opcode: 0x8a,
    name: "WRITE(16)",
    usage: rw16(0x8a, WRITE_FLAGS),
    access: "write",
    prepare: (ctx) => write(ctx),
  },
  { opcode: 0x8b, name: "ORWRITE(16)", usage: rw16(0x8b, WRITE_FLAGS), access: "write", prepare: orWrite },
  {
    opcode: 0x8e,
    name: "WRITE AND VERIFY(16)",
    usage: rw16(0x8e, WRITE_VERIFY_FLAGS),
    access: "write",
    prepare: (ctx) => write(ctx, true),
  },
  { opcode: 0x8f, name: "VERIFY(16)", usage: rw16(0x8f, VERIFY_FLAGS), access: "read", prepare: verify },
  { opcode: 0x90, name: "PRE-FETCH(16)", usage: rw16(0x90, 0x02), access: "read", prepare: prefetch },
  {
    opcode: 0x91,
    name: "SYNCHRONIZE CACHE(16)",
    usage: rw16(0x91, 0x06),
    access: "write",
    timeoutSeconds: 60,
    prepare: synchronizeCache,
  },
  { opcode: 0x93, name: "WRITE SAME(16)", usage: rw16(0x93, 0xf9), access: "write", prepare: writeSame },
  {
    opcode: 0x9c,
    name: "WRITE ATOMIC(16)",
    // WRPROTECT, DPO, FUA; LBA; ATOMIC BOUNDARY; 16-bit TRANSFER LENGTH; GROUP NUMBER.
    usage: [0x9c, 0xf8, ...ff8, 0xff, 0xff, 0xff, 0xff, 0x3f, C],
    access: "write",
    availableOn: supportsAtomicWrite,
    prepare: writeAtomic,
  },
  {
    opcode: 0x9e,
    serviceAction: 0x10,
    name: "READ CAPACITY(16)",
    usage: [0x9e, 0x1f, ...ff8, ...ff4, 0x01, C],
    access: "always",
    prepare: readCapacity16,
  },
  {
    opcode: 0x9e,
    serviceAction: 0x12,
    name: "GET LBA STATUS",
    usage: [0x9e, 0x1f, ...ff8, ...ff4, 0, C],
    access: "read",
    prepare: getLbaStatus,
  },
  {
    opcode: 0xa0,
    name: "REPORT LUNS",
    usage: [0xa0, 0, 0xff, 0, 0, 0, ...ff4, 0, C],
    access: "always",
    ignoresUnitAttention: true,
    anyLun: true,
    prepare: reportLuns,
  },
  {
    opcode: 0xa3,
    serviceAction: 0x0c,
    name: "REPORT SUPPORTED OPERATION CODES",
    usage: [0xa3, 0x1f, 0x87, 0xff, 0xff, 0xff, ...ff4, 0, C],
    access: "always",
    prepare: reportSupportedOpcodes,
  },
  {
    opcode: 0xa3,
    serviceAction: 0x0d,
    name: "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS",
    usage: [0xa3, 0x1f, 0x80, 0, 0, 0, ...ff4, 0, C],
    access: "always",
    prepare: reportSupportedTmfs,
  },
  { opcode: 0xa8, name: "READ(12)", usage: rw12(0xa8, READ_FLAGS), access: "read", prepare: read },
  {
    opcode: 0xaa,
    name: "WRITE(12)",
    usage: rw12(0xaa, WRITE_FLAGS),
    access: "write",
    prepare: (ctx) => write(ctx),
  },
  {
    opcode: 0xae,
    name: "WRITE AND VERIFY(12)",
    usage: rw12(0xae, WRITE_VERIFY_FLAGS),
    access: "write",
    prepare: (ctx) => write(ctx, true),
  },
  {
    opcode: 0xb7,
    name: "READ DEFECT DATA(12)",
    usage: [0xb7, 0x1f, 0, 0, 0, 0, ...ff4, 0, C],
    access: "read",
    prepare: readDefectData,
  },
  { opcode: 0xaf, name: "VERIFY(12)", usage: rw12(0xaf, VERIFY_FLAGS), access: "read", prepare: verify },
];

/** Opcodes whose CDB byte 1 holds a service action. */
const SERVICE_ACTION_OPCODES = new Set(
  COMMANDS.filter((c) => c.serviceAction !== undefined).map((c) => c.opcode),
);

export function hasServiceActions(opcode: number): boolean {
  return SERVICE_ACTION_OPCODES.has(opcode);
}

/** Lookup by opcode << 8 | service action (the hot path: every command goes through it). */
const BY_CODE = new Map(COMMANDS.map((c) => [(c.opcode << 8) | (c.serviceAction ?? 0), c]));

export function findCommand(cdb: Uint8Array): CommandSpec | undefined {
  const opcode = cdb[0] ?? 0;
  const sa = SERVICE_ACTION_OPCODES.has(opcode) ? (cdb[1] ?? 0) & 0x1f : 0;
  return BY_CODE.get((opcode << 8) | sa);
}

/** The command runs on this LU (a LUN-less command only if it needs no particular backend). */
export function isOffered(spec: CommandSpec, lu: LogicalUnit | undefined): boolean {
  if (!spec.availableOn) return true;
  return lu !== undefined && spec.availableOn(lu.backend);
}

/** Rejects a CDB that sets bits the command does not define. */
export function checkUsage(spec: CommandSpec, cdb: Uint8Array): void {
  const last = spec.usage.length - 1;
  for (let i = 1; i < last; i++) {
    const extra = (cdb[i] ?? 0) & ~(spec.usage[i] ?? 0) & 0xff;
    if (extra !== 0) throw invalidField(i, 31 - Math.clz32(extra));
  }
  // NormACA is 0 in INQUIRY: NACA=1 is refused; LINK is obsolete.
  const control = cdb[last] ?? 0;
  if ((control & 0x04) !== 0) throw invalidField(last, 2);
  if ((control & 0x01) !== 0) throw invalidField(last, 0);
}

function timeoutsDescriptor(spec: CommandSpec): number[] {
  const d = new Uint8Array(12);
  put16(d, 0, 0x0a);
  const t = spec.timeoutSeconds ?? 30;
  put32(d, 4, t);
  put32(d, 8, t);
  return [...d];
}

function reportSupportedOpcodes(ctx: CommandContext): Prepared {
  const { cdb } = ctx;
  const rctd = ((cdb[2] ?? 0) & 0x80) !== 0;
  const options = (cdb[2] ?? 0) & 0x07;
  const requestedOpcode = cdb[3] ?? 0;
  const requestedSa = u16(cdb, 4);
  const alloc = u32(cdb, 6);
  const table = ctx.port.commandTable().filter((c) => isOffered(c, ctx.lu));
  if (options === 0) {
    const out: number[] = [0, 0, 0, 0];
    for (const c of table) {
      const d = new Uint8Array(8);
      d[0] = c.opcode;
      put16(d, 2, c.serviceAction ?? 0);
      d[5] = (rctd ? 0x02 : 0) | (c.serviceAction !== undefined ? 0x01 : 0);
      put16(d, 6, c.usage.length);
      out.push(...d);
      if (rctd) out.push(...timeoutsDescriptor(c));
    }
    const data = Uint8Array.from(out);
    put32(data, 0, data.length - 4);
    return immediate(truncate(data, alloc));
  }
  if (options > 3) throw invalidField(2, 2);
  const usesSa = hasServiceActions(requestedOpcode);
  if (options === 1 && usesSa) throw invalidField(2, 2);
  if (options === 2 && !usesSa) throw invalidField(2, 2);
  const spec = table.find(
    (c) => c.opcode === requestedOpcode && (usesSa ? c.serviceAction === requestedSa : true),
  );
  if (!spec) return immediate(truncate(Uint8Array.from([0, 0x01, 0, 0]), alloc));
  const out: number[] = [0, (rctd ? 0x80 : 0) | 0x03, 0, 0, ...spec.usage];
  out[3] = spec.usage.length;
  if (rctd) out.push(...timeoutsDescriptor(spec));
  return immediate(truncate(Uint8Array.from(out), alloc));
}
