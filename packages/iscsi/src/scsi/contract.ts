// The seam between the iSCSI transport (sessions, PDUs) and the SCSI command set.
// The transport owns connections and data transfer; the SCSI side owns CDBs, sense, unit
// attentions and reservations. Neither imports the engine: a LUN is reached through BlockBackend.

/** One I_T nexus: an initiator port (name + ISID) talking to one target port. */
export interface ItNexus {
  /** Stable key of the nexus, e.g. `${initiatorName},i,0x${isid},${targetName},t,${tpgt}`. */
  readonly id: string;
  readonly initiatorName: string;
  /** ISID as 12 hex digits. */
  readonly isid: string;
  readonly targetName: string;
  readonly targetPortalGroupTag: number;
  /** RELATIVE TARGET PORT IDENTIFIER for VPD 0x83 and PR. */
  readonly relativeTargetPortId: number;
}

export type TaskAttribute = "untagged" | "simple" | "ordered" | "head-of-queue" | "aca";

/** A SCSI command as it arrives in a SCSI Command PDU. */
export interface ScsiCommand {
  readonly lun: number;
  readonly cdb: Uint8Array;
  readonly nexus: ItNexus;
  /** Expected Data Transfer Length from the PDU. */
  readonly expectedDataTransferLength: number;
  /** R and W bits of the PDU. */
  readonly readBit: boolean;
  readonly writeBit: boolean;
  readonly taskTag: number;
  readonly attribute: TaskAttribute;
}

export const ScsiStatus = {
  good: 0x00,
  checkCondition: 0x02,
  conditionMet: 0x04,
  busy: 0x08,
  reservationConflict: 0x18,
  taskSetFull: 0x28,
  acaActive: 0x30,
  taskAborted: 0x40,
} as const;
export type ScsiStatusCode = (typeof ScsiStatus)[keyof typeof ScsiStatus];

export interface ScsiResponse {
  status: ScsiStatusCode;
  /** Data-In produced by the command; the transport truncates to EDTL and reports residuals. */
  dataIn?: Uint8Array;
  /** Sense data (fixed or descriptor format) for CHECK CONDITION. */
  sense?: Uint8Array;
}

/**
 * Result of admitting a command at the moment its PDU arrives. Admission is synchronous: it stamps
 * writes for the engine's live-snapshot rule and decides how much Data-Out the transport must collect.
 */
export type Admission =
  | {
      kind: "ready";
      /** Bytes of Data-Out to collect before execute (0 = none). Never more than EDTL. */
      dataOutLength: number;
      /**
       * Data-Out bytes the CDB itself describes. When larger than dataOutLength (EDTL too small), the
       * transport reports a residual overflow of the difference. Absent = dataOutLength.
       */
      cdbDataOutLength?: number;
      /** Opaque state for execute. */
      readonly handle: unknown;
    }
  | {
      /** Rejected at admission (bad CDB, no such LUN, reservation conflict, UA…): answer now. */
      kind: "immediate";
      response: ScsiResponse;
    };

export type TaskManagementFunction =
  | "abort-task-set"
  | "clear-task-set"
  | "clear-aca"
  | "lun-reset"
  | "target-warm-reset"
  | "target-cold-reset";

/**
 * Where a command may put its Data-In instead of a fresh buffer: the transport's recycled memory.
 * The transport owns what it hands out and reclaims it once the response and every Data-In PDU
 * have left the socket, so the SCSI side keeps no reference past execute(). Without it (or when a
 * command ignores it) Data-In is whatever buffer the command returns.
 */
export interface DataInBuffers {
  /** A buffer of at least `length` bytes, contents UNINITIALISED (earlier commands' data). */
  dataInBuffer(length: number): Uint8Array;
}

/** Everything the transport needs from the SCSI side for one target (all its LUNs). */
export interface ScsiTargetPort {
  /** LUN numbers currently exposed, ascending. */
  luns(): number[];
  admit(cmd: ScsiCommand): Admission;
  execute(
    admission: Extract<Admission, { kind: "ready" }>,
    dataOut: Uint8Array | undefined,
    /** Data-In buffers to read into (READ 6/10/12/16); see DataInBuffers. */
    dataIn?: DataInBuffers,
  ): Promise<ScsiResponse>;
  /**
   * The transport will never execute this admission (task aborted, connection dropped before its
   * Data-Out arrived): releases what admission took (write tickets). Idempotent; no-op after execute.
   */
  abandon(admission: Extract<Admission, { kind: "ready" }>): void;
  /** Task management side effects (unit attentions, reservation release…); aborting in-flight tasks is the transport's job. */
  taskManagement(fn: TaskManagementFunction, lun: number, nexus: ItNexus): void;
  /** A new I_T nexus logged in (power-on/reset unit attention is pending for it). */
  nexusLoggedIn(nexus: ItNexus): void;
  /** The nexus is gone (logout or session reinstatement). */
  nexusLoggedOut(nexus: ItNexus): void;
}
