// Sense data (SPC-4 4.5): the reason behind every CHECK CONDITION, in fixed (0x70) or descriptor
// (0x72) format. Handlers throw SenseError; the target port renders it in the format the LUN's
// control mode page (D_SENSE) asks for.

export const SenseKey = {
  noSense: 0x0,
  recoveredError: 0x1,
  notReady: 0x2,
  mediumError: 0x3,
  hardwareError: 0x4,
  illegalRequest: 0x5,
  unitAttention: 0x6,
  dataProtect: 0x7,
  copyAborted: 0xa,
  abortedCommand: 0xb,
  miscompare: 0xe,
} as const;
export type SenseKeyCode = (typeof SenseKey)[keyof typeof SenseKey];

/** Additional sense code + qualifier, written as 0xAAQQ. */
export const Asc = {
  noAdditionalSense: 0x0000,
  unrecoveredReadError: 0x1100,
  writeError: 0x0c00,
  parameterListLengthError: 0x1a00,
  invalidCommandOperationCode: 0x2000,
  lbaOutOfRange: 0x2100,
  invalidFieldInCdb: 0x2400,
  logicalUnitNotSupported: 0x2500,
  invalidFieldInParameterList: 0x2600,
  writeProtected: 0x2700,
  spaceAllocationFailedWriteProtect: 0x2707,
  powerOnReset: 0x2900,
  busDeviceReset: 0x2903,
  modeParametersChanged: 0x2a01,
  reservationsPreempted: 0x2a03,
  reservationsReleased: 0x2a04,
  registrationsPreempted: 0x2a05,
  capacityDataHasChanged: 0x2a09,
  commandsClearedByAnotherInitiator: 0x2f00,
  savingParametersNotSupported: 0x3900,
  reportedLunsDataHasChanged: 0x3f0e,
  miscompareDuringVerify: 0x1d00,
  internalTargetFailure: 0x4400,
  /** iSCSI: a Data-Out out of DataSN order or with a bad digest (RFC 7143 §11.4.7.2). */
  protocolServiceCrcError: 0x4705,
  insufficientRegistrationResources: 0x5504,
  notReadyCauseNotReportable: 0x0400,
  notReadyManualIntervention: 0x0403,
  notReadyOperationInProgress: 0x0407,
  mediumNotPresent: 0x3a00,
} as const;

/** Where in the CDB (or parameter list) the offending field is: sense-key-specific field pointer. */
export interface FieldPointer {
  /** true = CDB, false = parameter data. */
  readonly inCdb: boolean;
  readonly byte: number;
  /** Bit (0..7) of the most significant bit of the field, when the field is not byte-aligned. */
  readonly bit?: number;
}

export interface SenseInfo {
  readonly key: SenseKeyCode;
  /** 0xAAQQ */
  readonly asc: number;
  /** INFORMATION field (e.g. the first bad LBA, or the miscompare offset). */
  readonly information?: number;
  readonly field?: FieldPointer;
}

/** Thrown by command handlers and backends; becomes CHECK CONDITION. */
export class SenseError extends Error {
  readonly sense: SenseInfo;
  constructor(sense: SenseInfo, message?: string) {
    super(
      message ?? `sense key 0x${sense.key.toString(16)} asc 0x${sense.asc.toString(16).padStart(4, "0")}`,
    );
    this.name = "SenseError";
    this.sense = sense;
  }
}

export function invalidField(byte: number, bit?: number): SenseError {
  return new SenseError({
    key: SenseKey.illegalRequest,
    asc: Asc.invalidFieldInCdb,
    field: bit === undefined ? { inCdb: true, byte } : { inCdb: true, byte, bit },
  });
}

/** An opcode this LU does not implement (libiscsi reports such a command as "not implemented"). */
export function invalidOpcode(): SenseError {
  return new SenseError({
    key: SenseKey.illegalRequest,
    asc: Asc.invalidCommandOperationCode,
    field: { inCdb: true, byte: 0 },
  });
}

export function invalidParameter(byte: number, bit?: number): SenseError {
  return new SenseError({
    key: SenseKey.illegalRequest,
    asc: Asc.invalidFieldInParameterList,
    field: bit === undefined ? { inCdb: false, byte } : { inCdb: false, byte, bit },
  });
}

export function illegalRequest(asc: number): SenseError {
  return new SenseError({ key: SenseKey.illegalRequest, asc });
}

export function lbaOutOfRange(lba?: number): SenseError {
  return new SenseError(
    lba === undefined
      ? { key: SenseKey.illegalRequest, asc: Asc.lbaOutOfRange }
      : { key: SenseKey.illegalRequest, asc: Asc.lbaOutOfRange, information: lba },
  );
}

function sksBytes(field: FieldPointer): [number, number, number] {
  // SKSV=1, C/D, BPV and BIT POINTER, then the 16-bit FIELD POINTER.
  let b0 = 0x80;
  if (field.inCdb) b0 |= 0x40;
  if (field.bit !== undefined) b0 |= 0x08 | (field.bit & 0x07);
  return [b0, (field.byte >> 8) & 0xff, field.byte & 0xff];
}

/** Fixed format sense data (18 bytes). */
export function fixedSense(info: SenseInfo): Uint8Array {
  const s = new Uint8Array(18);
  s[0] = 0x70;
  s[2] = info.key & 0x0f;
  if (info.information !== undefined) {
    // The 4-byte INFORMATION field only holds values below 2^32; VALID stays 0 otherwise.
    if (info.information <= 0xffffffff) {
      s[0] = 0xf0;
      new DataView(s.buffer).setUint32(3, info.information);
    }
  }
  s[7] = 10;
  s[12] = (info.asc >> 8) & 0xff;
  s[13] = info.asc & 0xff;
  if (info.field) {
    const [a, b, c] = sksBytes(info.field);
    s[15] = a;
    s[16] = b;
    s[17] = c;
  }
  return s;
}

/** Descriptor format sense data: header + information and sense-key-specific descriptors. */
export function descriptorSense(info: SenseInfo): Uint8Array {
  const parts: number[] = [];
  if (info.information !== undefined) {
    const d = new Uint8Array(12);
    d[0] = 0x00;
    d[1] = 0x0a;
    d[2] = 0x80;
    new DataView(d.buffer).setBigUint64(4, BigInt(info.information));
    parts.push(...d);
  }
  if (info.field) {
    parts.push(0x02, 0x06, 0, 0, ...sksBytes(info.field), 0);
  }
  const s = new Uint8Array(8 + parts.length);
  s[0] = 0x72;
  s[1] = info.key & 0x0f;
  s[2] = (info.asc >> 8) & 0xff;
  s[3] = info.asc & 0xff;
  s[7] = parts.length;
  s.set(parts, 8);
  return s;
}

export function encodeSense(info: SenseInfo, descriptorFormat: boolean): Uint8Array {
  return descriptorFormat ? descriptorSense(info) : fixedSense(info);
}
