// The shape every command handler has: decode and validate at admission (synchronously, in arrival
// order), then run once the Data-Out has arrived.
import type { BlockBackend } from "./backend.js";
import type { DataInBuffers, ScsiCommand } from "./contract.js";
import type { CopyResults } from "./extended-copy.js";
import type { InquiryIdentity } from "./inquiry.js";
import type { LogicalUnit } from "./logical-unit.js";
import type { AccessClass } from "./reservations.js";

export interface PortServices {
  readonly identity: InquiryIdentity;
  luns(): number[];
  /** Keys of the I_T nexuses logged in now. */
  nexuses(): Iterable<string>;
  /** Every LU of the port (EXTENDED COPY finds its source and destination among them). */
  units(): Iterable<LogicalUnit>;
  readonly copyResults: CopyResults;
  /** PREEMPT AND ABORT: the transport aborts these nexuses' tasks on the LU. */
  abortTasks(lun: number, nexusKeys: readonly string[]): void;
  /** REPORT SUPPORTED OPERATION CODES reads the table it is part of. */
  commandTable(): readonly CommandSpec[];
}

export interface CommandContext {
  readonly cmd: ScsiCommand;
  readonly cdb: Uint8Array;
  /** Key of the I_T nexus (initiator port + relative target port). */
  readonly nexus: string;
  /** Undefined only for commands that also answer for a LUN that does not exist. */
  readonly lu: LogicalUnit | undefined;
  readonly port: PortServices;
}

export interface Prepared {
  /** Data-Out bytes the CDB describes. */
  readonly dataOutLength: number;
  /**
   * Runs the command; returns Data-In, which may be a view of a `dataIn` buffer. Throws
   * SenseError / ReservationConflict.
   */
  run(dataOut: Uint8Array, dataIn?: DataInBuffers): Promise<Uint8Array | undefined> | Uint8Array | undefined;
  /** Releases what prepare took (write tickets) when run will never be called. */
  cancel?(): void;
}

export interface CommandSpec {
  readonly opcode: number;
  readonly serviceAction?: number;
  readonly name: string;
  /** CDB USAGE DATA (SPC-4 6.35.3): a set bit is a bit the command uses. Also the CDB length. */
  readonly usage: readonly number[];
  readonly access: AccessClass;
  /** INQUIRY, REPORT LUNS, REQUEST SENSE: not blocked by a pending unit attention. */
  readonly ignoresUnitAttention?: boolean;
  /** Answers even when the LUN does not exist. */
  readonly anyLun?: boolean;
  /** Nominal/recommended timeout in seconds for the command timeouts descriptor. */
  readonly timeoutSeconds?: number;
  /**
   * For a command only some backends can run (WRITE ATOMIC): elsewhere its opcode is unknown and
   * REPORT SUPPORTED OPERATION CODES leaves it out, so initiators do not try it. Absent: every LU.
   */
  readonly availableOn?: (backend: BlockBackend) => boolean;
  prepare(ctx: CommandContext): Prepared;
}

export const NO_DATA_OUT = 0;

export function immediate(data?: Uint8Array): Prepared {
  return { dataOutLength: 0, run: () => data };
}

/** Truncates Data-In to the CDB's ALLOCATION LENGTH. */
export function truncate(data: Uint8Array, allocationLength: number): Uint8Array {
  return data.length > allocationLength ? data.subarray(0, allocationLength) : data;
}

export function requireLu(ctx: CommandContext): LogicalUnit {
  if (!ctx.lu) throw new Error("command needs a logical unit");
  return ctx.lu;
}
