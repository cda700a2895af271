// Target-to-initiator PDUs: each encoder fills a 48-byte BHS; serializePdu adds padding and
// digests and returns the pieces for a gathered socket write (the data segment is never copied).
import { encodeLun, padLength, writeU24 } from "./buffer-io.js";
import { computeDigest, continueDigest, DIGEST_LENGTH, writeDigest } from "./digest.js";
import { TargetOpcode } from "./opcodes.js";
import { BHS_LENGTH, type Pdu } from "./pdu.js";
import { allocSlice } from "./slab.js";

const EMPTY = Buffer.alloc(0);
const PAD = Buffer.alloc(4);
const ZERO_BHS = new Uint8Array(BHS_LENGTH);

export interface DigestSettings {
  headerDigest: boolean;
  dataDigest: boolean;
}

/** Header (+AHS, +digest), data, padding (+digest): ready for socket.cork()/write()s or writev. */
export function serializePdu(pdu: Pdu, digests: DigestSettings): Buffer[] {
  const ahsLength = pdu.ahs.length;
  const dataLength = pdu.data.length;
  pdu.bhs[4] = ahsLength / 4;
  writeU24(pdu.bhs, 5, dataLength);
  const headerLength = BHS_LENGTH + ahsLength;
  let header = pdu.bhs;
  if (ahsLength > 0 || digests.headerDigest) {
    header = Buffer.allocUnsafe(headerLength + (digests.headerDigest ? DIGEST_LENGTH : 0));
    pdu.bhs.copy(header, 0);
    if (ahsLength > 0) pdu.ahs.copy(header, BHS_LENGTH);
    if (digests.headerDigest) writeDigest(header, headerLength, computeDigest(header, 0, headerLength));
  }
  if (dataLength === 0) return [header];
  const pad = padLength(dataLength);
  if (!digests.dataDigest) return pad === 0 ? [header, pdu.data] : [header, pdu.data, PAD.subarray(0, pad)];
  const trailer = Buffer.alloc(pad + DIGEST_LENGTH);
  let crc = computeDigest(pdu.data);
  if (pad > 0) crc = continueDigest(crc, trailer, 0, pad);
  writeDigest(trailer, pad, crc);
  return [header, pdu.data, trailer];
}

/** Status sequence numbers every target PDU that carries them stamps at bytes 24..35. */
export interface StatusNumbers {
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
}

function bhs(opcode: number, flags: number): Buffer {
  // A slab slice: a 48-byte Buffer.alloc is an on-heap array V8 must move off-heap for writev.
  const b = allocSlice(BHS_LENGTH);
  // TypedArray set, not Buffer#fill: that one is a JS wrapper with argument checks, per PDU.
  b.set(ZERO_BHS);
  b[0] = opcode;
  b[1] = flags;
  return b;
}

function stampNumbers(b: Buffer, sn: StatusNumbers): void {
  b.writeUInt32BE(sn.statSN >>> 0, 24);
  b.writeUInt32BE(sn.expCmdSN >>> 0, 28);
  b.writeUInt32BE(sn.maxCmdSN >>> 0, 32);
}

export interface LoginResponseFields extends StatusNumbers {
  transit: boolean;
  continue: boolean;
  currentStage: number;
  nextStage: number;
  isid: Buffer;
  tsih: number;
  itt: number;
  /** (class << 8) | detail, see LoginStatus. */
  status: number;
  data: Buffer;
}

export function encodeLoginResponse(f: LoginResponseFields): Pdu {
  const flags =
    (f.transit ? 0x80 : 0) |
    (f.continue ? 0x40 : 0) |
    ((f.currentStage & 3) << 2) |
    (f.transit ? f.nextStage & 3 : 0);
  const b = bhs(TargetOpcode.loginResponse, flags);
  b[2] = 0; // Version-max
  b[3] = 0; // Version-active
  f.isid.copy(b, 8, 0, 6);
  b.writeUInt16BE(f.tsih, 14);
  b.writeUInt32BE(f.itt >>> 0, 16);
  stampNumbers(b, f);
  b[36] = (f.status >> 8) & 0xff;
  b[37] = f.status & 0xff;
  return { bhs: b, ahs: EMPTY, data: f.data };
}

export interface TextResponseFields extends StatusNumbers {
  final: boolean;
  continue: boolean;
  lun: number;
  itt: number;
  ttt: number;
  data: Buffer;
}

export function encodeTextResponse(f: TextResponseFields): Pdu {
  const b = bhs(TargetOpcode.textResponse, (f.final ? 0x80 : 0) | (f.continue ? 0x40 : 0));
  encodeLun(b, 8, f.lun);
  b.writeUInt32BE(f.itt >>> 0, 16);
  b.writeUInt32BE(f.ttt >>> 0, 20);
  stampNumbers(b, f);
  return { bhs: b, ahs: EMPTY, data: f.data };
}

/** Residual as RFC 7143 §11.4.5: overflow = the initiator expected less than the target had. */
export interface Residual {
  overflow: boolean;
  underflow: boolean;
  count: number;
}

export const NO_RESIDUAL: Residual = { overflow: false, underflow: false, count: 0 };

export interface ScsiResponseFields extends StatusNumbers {
  itt: number;
  /** iSCSI response: 0 = command completed at target, 1 = target failure. */
  response: number;
  status: number;
  residual: Residual;
  bidiReadResidual?: Residual;
  expDataSN: number;
  sense?: Uint8Array;
}

export function encodeScsiResponse(f: ScsiResponseFields): Pdu {
  const r = f.residual;
  const br = f.bidiReadResidual;
  const flags =
    0x80 |
    (br?.overflow ? 0x10 : 0) |
    (br?.underflow ? 0x08 : 0) |
    (r.overflow ? 0x04 : 0) |
    (r.underflow ? 0x02 : 0);
  const b = bhs(TargetOpcode.scsiResponse, flags);
  b[2] = f.response;
  b[3] = f.status;
  b.writeUInt32BE(f.itt >>> 0, 16);
  stampNumbers(b, f);
  b.writeUInt32BE(f.expDataSN >>> 0, 36);
  b.writeUInt32BE(br ? br.count >>> 0 : 0, 40);
  b.writeUInt32BE(r.overflow || r.underflow ? r.count >>> 0 : 0, 44);
  let data = EMPTY;
  if (f.sense && f.sense.length > 0) {
    data = Buffer.alloc(2 + f.sense.length);
    data.writeUInt16BE(f.sense.length, 0);
    data.set(f.sense, 2);
  }
  return { bhs: b, ahs: EMPTY, data };
}

export interface DataInFields {
  final: boolean;
  /** Status in this PDU (phase collapse): then statSN and status are sent and no SCSI Response follows. */
  statusPresent: boolean;
  status: number;
  residual: Residual;
  lun: number;
  itt: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  dataSN: number;
  bufferOffset: number;
  data: Buffer;
}

export function encodeDataIn(f: DataInFields): Pdu {
  let flags = f.final ? 0x80 : 0;
  if (f.statusPresent) {
    flags |= 0x01 | (f.residual.overflow ? 0x04 : 0) | (f.residual.underflow ? 0x02 : 0);
  }
  const b = bhs(TargetOpcode.scsiDataIn, flags);
  if (f.statusPresent) b[3] = f.status;
  encodeLun(b, 8, f.lun);
  b.writeUInt32BE(f.itt >>> 0, 16);
  b.writeUInt32BE(0xffffffff, 20);
  b.writeUInt32BE(f.statusPresent ? f.statSN >>> 0 : 0, 24);
  b.writeUInt32BE(f.expCmdSN >>> 0, 28);
  b.writeUInt32BE(f.maxCmdSN >>> 0, 32);
  b.writeUInt32BE(f.dataSN >>> 0, 36);
  b.writeUInt32BE(f.bufferOffset >>> 0, 40);
  const r = f.residual;
  b.writeUInt32BE(f.statusPresent && (r.overflow || r.underflow) ? r.count >>> 0 : 0, 44);
  return { bhs: b, ahs: EMPTY, data: f.data };
}

export interface R2TFields extends StatusNumbers {
  lun: number;
  itt: number;
  ttt: number;
  r2tSN: number;
  bufferOffset: number;
  desiredLength: number;
}

export function encodeR2T(f: R2TFields): Pdu {
  const b = bhs(TargetOpcode.readyToTransfer, 0x80);
  encodeLun(b, 8, f.lun);
  b.writeUInt32BE(f.itt >>> 0, 16);
  b.writeUInt32BE(f.ttt >>> 0, 20);
  stampNumbers(b, f);
  b.writeUInt32BE(f.r2tSN >>> 0, 36);
  b.writeUInt32BE(f.bufferOffset >>> 0, 40);
  b.writeUInt32BE(f.desiredLength >>> 0, 44);
  return { bhs: b, ahs: EMPTY, data: EMPTY };
}

export interface NopInFields extends StatusNumbers {
  lun: number;
  itt: number;
  ttt: number;
  data: Buffer;
}

export function encodeNopIn(f: NopInFields): Pdu {
  const b = bhs(TargetOpcode.nopIn, 0x80);
  encodeLun(b, 8, f.lun);
  b.writeUInt32BE(f.itt >>> 0, 16);
  b.writeUInt32BE(f.ttt >>> 0, 20);
  stampNumbers(b, f);
  return { bhs: b, ahs: EMPTY, data: f.data };
}

export interface LogoutResponseFields extends StatusNumbers {
  response: number;
  itt: number;
  time2Wait: number;
  time2Retain: number;
}

export function encodeLogoutResponse(f: LogoutResponseFields): Pdu {
  const b = bhs(TargetOpcode.logoutResponse, 0x80);
  b[2] = f.response;
  b.writeUInt32BE(f.itt >>> 0, 16);
  stampNumbers(b, f);
  b.writeUInt16BE(f.time2Wait, 40);
  b.writeUInt16BE(f.time2Retain, 42);
  return { bhs: b, ahs: EMPTY, data: EMPTY };
}

export interface TmfResponseFields extends StatusNumbers {
  response: number;
  itt: number;
}

export function encodeTmfResponse(f: TmfResponseFields): Pdu {
  const b = bhs(TargetOpcode.taskManagementResponse, 0x80);
  b[2] = f.response;
  b.writeUInt32BE(f.itt >>> 0, 16);
  stampNumbers(b, f);
  return { bhs: b, ahs: EMPTY, data: EMPTY };
}

export interface RejectFields extends StatusNumbers {
  reason: number;
  /** The BHS of the PDU being rejected (copied into the data segment). */
  rejectedBhs: Buffer;
  dataSN?: number;
}

export function encodeReject(f: RejectFields): Pdu {
  const b = bhs(TargetOpcode.reject, 0x80);
  b[2] = f.reason;
  b.writeUInt32BE(0xffffffff, 16);
  stampNumbers(b, f);
  b.writeUInt32BE((f.dataSN ?? 0) >>> 0, 36);
  const data = Buffer.alloc(BHS_LENGTH);
  f.rejectedBhs.copy(data, 0, 0, Math.min(BHS_LENGTH, f.rejectedBhs.length));
  return { bhs: b, ahs: EMPTY, data };
}

export interface AsyncMessageFields extends StatusNumbers {
  lun: number;
  event: number;
  vcode: number;
  parameter1: number;
  parameter2: number;
  parameter3: number;
  data?: Buffer;
}

/** AsyncEvent codes (RFC 7143 §11.9.1). */
export const AsyncEvent = {
  scsiEvent: 0,
  requestLogout: 1,
  dropConnection: 2,
  dropAllConnections: 3,
} as const;

export function encodeAsyncMessage(f: AsyncMessageFields): Pdu {
  const b = bhs(TargetOpcode.asyncMessage, 0x80);
  encodeLun(b, 8, f.lun);
  b.writeUInt32BE(0xffffffff, 16);
  stampNumbers(b, f);
  b[36] = f.event;
  b[37] = f.vcode;
  b.writeUInt16BE(f.parameter1, 38);
  b.writeUInt16BE(f.parameter2, 40);
  b.writeUInt16BE(f.parameter3, 42);
  return { bhs: b, ahs: EMPTY, data: f.data ?? EMPTY };
}
