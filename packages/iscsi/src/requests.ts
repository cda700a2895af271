// Initiator-to-target PDUs decoded into named fields. Decoders check what the BHS alone can
// prove wrong (AHS framing, CDB length); state-dependent checks belong to the session.
import { decodeLun } from "./buffer-io.js";
import { IscsiProtocolError } from "./errors.js";
import { AhsType, isFinal, isImmediate, type Pdu } from "./pdu.js";

export type TaskAttributeCode = 0 | 1 | 2 | 3 | 4;

export interface ScsiCommandRequest {
  immediate: boolean;
  final: boolean;
  read: boolean;
  write: boolean;
  /** ATTR field: 0 untagged, 1 simple, 2 ordered, 3 head of queue, 4 ACA. */
  attribute: number;
  lun: number;
  itt: number;
  expectedDataTransferLength: number;
  cmdSN: number;
  expStatSN: number;
  /** The full CDB: 16 bytes from the BHS plus any Extended CDB AHS. */
  cdb: Buffer;
  /** From the Bidirectional Read Expected Data Transfer Length AHS, if present. */
  bidiReadLength?: number;
  /** The PDU's data segment: valid only during the parser callback after feedTransient. */
  immediateData: Buffer;
}

/** Walks the AHS area; throws when an AHS length runs past it. */
export function parseAhs(ahs: Buffer): { type: number; specific: Buffer }[] {
  const out: { type: number; specific: Buffer }[] = [];
  let off = 0;
  while (off < ahs.length) {
    if (off + 3 > ahs.length) throw new IscsiProtocolError("bad-length", "truncated AHS header");
    const length = ahs.readUInt16BE(off);
    const type = ahs[off + 2] as number;
    // AHSLength counts the specific field, which starts with the byte after the type.
    const end = off + 3 + length;
    if (length === 0 || end > ahs.length)
      throw new IscsiProtocolError("bad-length", `AHS length ${length} overruns`);
    out.push({ type, specific: ahs.subarray(off + 3, end) });
    off = end + ((4 - (end & 3)) & 3);
  }
  return out;
}

export function decodeScsiCommand(pdu: Pdu): ScsiCommandRequest {
  const b = pdu.bhs;
  let cdb: Buffer = b.subarray(32, 48);
  let bidiReadLength: number | undefined;
  for (const ahs of parseAhs(pdu.ahs)) {
    if (ahs.type === AhsType.extendedCdb) {
      // First specific byte is reserved; the rest extends the CDB past 16 bytes.
      cdb = Buffer.concat([cdb, ahs.specific.subarray(1)]);
    } else if (ahs.type === AhsType.bidirectionalReadLength) {
      if (ahs.specific.length < 5) throw new IscsiProtocolError("bad-length", "short bidirectional AHS");
      bidiReadLength = ahs.specific.readUInt32BE(1);
    }
  }
  return {
    immediate: isImmediate(b),
    final: isFinal(b),
    read: ((b[1] as number) & 0x40) !== 0,
    write: ((b[1] as number) & 0x20) !== 0,
    attribute: (b[1] as number) & 0x07,
    lun: decodeLun(b, 8),
    itt: b.readUInt32BE(16),
    expectedDataTransferLength: b.readUInt32BE(20),
    cmdSN: b.readUInt32BE(24),
    expStatSN: b.readUInt32BE(28),
    cdb,
    ...(bidiReadLength === undefined ? {} : { bidiReadLength }),
    immediateData: pdu.data,
  };
}

export interface DataOutRequest {
  final: boolean;
  lun: number;
  itt: number;
  ttt: number;
  expStatSN: number;
  dataSN: number;
  bufferOffset: number;
  data: Buffer;
}

export function decodeDataOut(pdu: Pdu): DataOutRequest {
  const b = pdu.bhs;
  return {
    final: isFinal(b),
    lun: decodeLun(b, 8),
    itt: b.readUInt32BE(16),
    ttt: b.readUInt32BE(20),
    expStatSN: b.readUInt32BE(28),
    dataSN: b.readUInt32BE(36),
    bufferOffset: b.readUInt32BE(40),
    data: pdu.data,
  };
}

export interface NopOutRequest {
  immediate: boolean;
  lun: number;
  itt: number;
  ttt: number;
  cmdSN: number;
  expStatSN: number;
  data: Buffer;
}

export function decodeNopOut(pdu: Pdu): NopOutRequest {
  const b = pdu.bhs;
  return {
    immediate: isImmediate(b),
    lun: decodeLun(b, 8),
    itt: b.readUInt32BE(16),
    ttt: b.readUInt32BE(20),
    cmdSN: b.readUInt32BE(24),
    expStatSN: b.readUInt32BE(28),
    data: pdu.data,
  };
}

export interface TaskManagementRequest {
  immediate: boolean;
  function: number;
  lun: number;
  itt: number;
  referencedTaskTag: number;
  cmdSN: number;
  expStatSN: number;
  refCmdSN: number;
  expDataSN: number;
}

export function decodeTaskManagement(pdu: Pdu): TaskManagementRequest {
  const b = pdu.bhs;
  return {
    immediate: isImmediate(b),
    function: (b[1] as number) & 0x7f,
    lun: decodeLun(b, 8),
    itt: b.readUInt32BE(16),
    referencedTaskTag: b.readUInt32BE(20),
    cmdSN: b.readUInt32BE(24),
    expStatSN: b.readUInt32BE(28),
    refCmdSN: b.readUInt32BE(32),
    expDataSN: b.readUInt32BE(36),
  };
}

export interface LoginRequest {
  transit: boolean;
  continue: boolean;
  currentStage: number;
  nextStage: number;
  versionMax: number;
  versionMin: number;
  /** 6 bytes. */
  isid: Buffer;
  tsih: number;
  itt: number;
  cid: number;
  cmdSN: number;
  expStatSN: number;
  data: Buffer;
}

export function decodeLoginRequest(pdu: Pdu): LoginRequest {
  const b = pdu.bhs;
  const flags = b[1] as number;
  return {
    transit: (flags & 0x80) !== 0,
    continue: (flags & 0x40) !== 0,
    currentStage: (flags >> 2) & 3,
    nextStage: flags & 3,
    versionMax: b[2] as number,
    versionMin: b[3] as number,
    isid: Buffer.from(b.subarray(8, 14)),
    tsih: b.readUInt16BE(14),
    itt: b.readUInt32BE(16),
    cid: b.readUInt16BE(20),
    cmdSN: b.readUInt32BE(24),
    expStatSN: b.readUInt32BE(28),
    data: pdu.data,
  };
}

export interface TextRequest {
  immediate: boolean;
  final: boolean;
  continue: boolean;
  lun: number;
  itt: number;
  ttt: number;
  cmdSN: number;
  expStatSN: number;
  data: Buffer;
}

export function decodeTextRequest(pdu: Pdu): TextRequest {
  const b = pdu.bhs;
  return {
    immediate: isImmediate(b),
    final: isFinal(b),
    continue: ((b[1] as number) & 0x40) !== 0,
    lun: decodeLun(b, 8),
    itt: b.readUInt32BE(16),
    ttt: b.readUInt32BE(20),
    cmdSN: b.readUInt32BE(24),
    expStatSN: b.readUInt32BE(28),
    data: pdu.data,
  };
}

export interface LogoutRequest {
  immediate: boolean;
  /** 0 close the session, 1 close the connection, 2 remove the connection for recovery. */
  reason: number;
  itt: number;
  cid: number;
  cmdSN: number;
  expStatSN: number;
}

export function decodeLogoutRequest(pdu: Pdu): LogoutRequest {
  const b = pdu.bhs;
  return {
    immediate: isImmediate(b),
    reason: (b[1] as number) & 0x7f,
    itt: b.readUInt32BE(16),
    cid: b.readUInt16BE(20),
    cmdSN: b.readUInt32BE(24),
    expStatSN: b.readUInt32BE(28),
  };
}
