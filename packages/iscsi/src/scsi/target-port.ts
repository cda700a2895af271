// The SCSI target port: LUN inventory, per-nexus bookkeeping and the admission/execution pipeline
// the transport drives (contract.ts). Admission order of checks: LUN exists, unit attention, opcode
// supported, CDB fields, reservation conflict, then the command's own validation and write tickets.
import type { BlockBackend, ReservationPersistence } from "./backend.js";
import type { CommandContext, CommandSpec, PortServices, Prepared } from "./command.js";
import { COMMANDS, checkUsage, findCommand, hasServiceActions, isOffered } from "./command-table.js";
import type {
  Admission,
  DataInBuffers,
  ItNexus,
  ScsiCommand,
  ScsiResponse,
  ScsiTargetPort,
  TaskManagementFunction,
} from "./contract.js";
import { ScsiStatus } from "./contract.js";
import { CopyResults } from "./extended-copy.js";
import type { InquiryIdentity } from "./inquiry.js";
import { LogicalUnit } from "./logical-unit.js";
import { nexusKeyOf } from "./pr-commands.js";
import { ReservationConflict } from "./reservations.js";
import {
  Asc,
  encodeSense,
  invalidField,
  invalidOpcode,
  SenseError,
  type SenseInfo,
  SenseKey,
} from "./sense.js";

/** Data-Out of a command that has none (never written to). */
const EMPTY = new Uint8Array(0);

export interface ScsiTargetPortOptions {
  /** INQUIRY PRODUCT IDENTIFICATION (16 chars max). */
  productId?: string;
  /** INQUIRY PRODUCT REVISION LEVEL (4 chars max). */
  revision?: string;
  /**
   * Called for a failure that is not a SCSI condition (a bug or an unexpected backend error); the
   * initiator sees HARDWARE ERROR / INTERNAL TARGET FAILURE, the daemon should log this.
   */
  onInternalError?: (err: unknown, where: { lun: number; opcode: number }) => void;
  /**
   * PERSISTENT RESERVE OUT / PREEMPT AND ABORT removed these I_T nexuses (keys as `nexusKey()`
   * computes them): the transport aborts their tasks on `lun`, without responses.
   */
  abortTasks?: (lun: number, nexusKeys: readonly string[]) => void;
}

export interface AddLunOptions {
  /** Where APTPL persistent reservations are kept across restarts. */
  persistence?: ReservationPersistence;
}

/** A ScsiTargetPort whose LUNs can be added and withdrawn while sessions run. */
export interface ScsiTarget extends ScsiTargetPort {
  addLun(lun: number, backend: BlockBackend, opts?: AddLunOptions): void;
  /** Withdraws a LUN; commands already admitted still complete against its backend. */
  removeLun(lun: number): void;
  hasLun(lun: number): boolean;
  /** The backend's size changed: CAPACITY DATA HAS CHANGED for every nexus (also noticed lazily). */
  capacityChanged(lun: number): void;
}

interface Handle {
  readonly lun: number;
  readonly opcode: number;
  readonly prepared: Prepared;
  readonly lu: LogicalUnit | undefined;
  state: "admitted" | "running" | "done";
}

// Sessions keep one ItNexus object for their lifetime: compute its key once, not per command.
const nexusKeys = new WeakMap<ItNexus, string>();

export function nexusKey(n: ItNexus): string {
  let key = nexusKeys.get(n);
  if (key === undefined) {
    key = nexusKeyOf(n.initiatorName, n.isid, n.relativeTargetPortId);
    nexusKeys.set(n, key);
  }
  return key;
}

function checkCondition(info: SenseInfo, lu: LogicalUnit | undefined): ScsiResponse {
  return { status: ScsiStatus.checkCondition, sense: encodeSense(info, lu?.modes.descriptorSense ?? false) };
}

function isScsiCondition(err: unknown): boolean {
  return err instanceof ReservationConflict || err instanceof SenseError;
}

function failure(err: unknown, lu: LogicalUnit | undefined): ScsiResponse {
  if (err instanceof ReservationConflict) return { status: ScsiStatus.reservationConflict };
  if (err instanceof SenseError) return checkCondition(err.sense, lu);
  return checkCondition({ key: SenseKey.hardwareError, asc: Asc.internalTargetFailure }, lu);
}

export function createScsiTargetPort(opts: ScsiTargetPortOptions = {}): ScsiTarget {
  const units = new Map<number, LogicalUnit>();
  const nexuses = new Set<string>();
  const identity: InquiryIdentity = {
    productId: opts.productId ?? "livesnap volume",
    revision: opts.revision ?? "0001",
  };
  const services: PortServices = {
    identity,
    luns: () => [...units.keys()].sort((a, b) => a - b),
    nexuses: () => nexuses,
    units: () => units.values(),
    copyResults: new CopyResults(),
    abortTasks: (lun, keys) => opts.abortTasks?.(lun, keys),
    commandTable: () => COMMANDS,
  };

  function lunInventoryChanged(): void {
    for (const lu of units.values()) lu.ua.establishAll(nexuses, Asc.reportedLunsDataHasChanged);
  }

  function admit(cmd: ScsiCommand): Admission {
    const key = nexusKey(cmd.nexus);
    nexuses.add(key);
    const lu = units.get(cmd.lun);
    const found = cmd.cdb.length > 0 ? findCommand(cmd.cdb) : undefined;
    // A command this LU's backend cannot run is as unknown here as an opcode nobody implements.
    const spec: CommandSpec | undefined = found && isOffered(found, lu) ? found : undefined;
    const immediate = (response: ScsiResponse): Admission => ({ kind: "immediate", response });
    if (!lu && !spec?.anyLun) {
      return immediate(
        checkCondition({ key: SenseKey.illegalRequest, asc: Asc.logicalUnitNotSupported }, undefined),
      );
    }
    if (lu) {
      lu.noticeCapacity(nexuses);
      if (!spec?.ignoresUnitAttention) {
        const ua = lu.ua.take(key);
        if (ua !== undefined) return immediate(checkCondition({ key: SenseKey.unitAttention, asc: ua }, lu));
      }
    }
    try {
      if (!spec) {
        const opcode = cmd.cdb[0] ?? 0;
        if (hasServiceActions(opcode)) throw invalidField(1, 4);
        throw invalidOpcode();
      }
      const cdb = cmd.cdb.subarray(0, spec.usage.length);
      if (cdb.length < spec.usage.length) throw invalidField(0);
      checkUsage(spec, cdb);
      lu?.pr.check(key, spec.access);
      const ctx: CommandContext = { cmd, cdb, nexus: key, lu, port: services };
      const prepared = spec.prepare(ctx);
      const handle: Handle = { lun: cmd.lun, opcode: cdb[0] ?? 0, prepared, lu, state: "admitted" };
      return {
        kind: "ready",
        dataOutLength: Math.min(prepared.dataOutLength, cmd.expectedDataTransferLength),
        cdbDataOutLength: prepared.dataOutLength,
        handle,
      };
    } catch (err) {
      if (!isScsiCondition(err)) opts.onInternalError?.(err, { lun: cmd.lun, opcode: cmd.cdb[0] ?? 0 });
      return immediate(failure(err, lu));
    }
  }

  async function execute(
    admission: Extract<Admission, { kind: "ready" }>,
    dataOut: Uint8Array | undefined,
    buffers?: DataInBuffers,
  ): Promise<ScsiResponse> {
    const handle = admission.handle as Handle;
    if (handle.state !== "admitted") throw new Error("admission executed twice or abandoned");
    handle.state = "running";
    try {
      const dataIn = await handle.prepared.run(dataOut ?? EMPTY, buffers);
      return dataIn === undefined ? { status: ScsiStatus.good } : { status: ScsiStatus.good, dataIn };
    } catch (err) {
      if (!isScsiCondition(err)) opts.onInternalError?.(err, { lun: handle.lun, opcode: handle.opcode });
      return failure(err, handle.lu);
    } finally {
      handle.state = "done";
    }
  }

  function abandon(admission: Extract<Admission, { kind: "ready" }>): void {
    const handle = admission.handle as Handle;
    if (handle.state !== "admitted") return;
    handle.state = "done";
    handle.prepared.cancel?.();
  }

  function taskManagement(fn: TaskManagementFunction, lun: number, nexus: ItNexus): void {
    const key = nexusKey(nexus);
    switch (fn) {
      case "lun-reset": {
        const lu = units.get(lun);
        if (!lu) return;
        lu.pr.resetSpc2();
        lu.ua.establishAll(nexuses, Asc.busDeviceReset);
        return;
      }
      case "target-warm-reset":
      case "target-cold-reset":
        for (const lu of units.values()) {
          lu.pr.resetSpc2();
          lu.ua.establishAll(nexuses, fn === "target-cold-reset" ? Asc.powerOnReset : Asc.busDeviceReset);
        }
        return;
      case "clear-task-set": {
        // Task set shared by all nexuses (TST=000b): the others learn their commands were cleared.
        const lu = units.get(lun);
        lu?.ua.establishAll(nexuses, Asc.commandsClearedByAnotherInitiator, key);
        return;
      }
      default:
        return;
    }
  }

  return {
    luns: services.luns,
    admit,
    execute,
    abandon,
    taskManagement,
    nexusLoggedIn(nexus: ItNexus): void {
      const key = nexusKey(nexus);
      nexuses.add(key);
      for (const lu of units.values()) lu.ua.establish(key, Asc.powerOnReset);
    },
    nexusLoggedOut(nexus: ItNexus): void {
      const key = nexusKey(nexus);
      nexuses.delete(key);
      for (const lu of units.values()) {
        lu.ua.forget(key);
        lu.pr.resetSpc2(key);
      }
    },
    addLun(lun: number, backend: BlockBackend, addOpts: AddLunOptions = {}): void {
      if (!Number.isInteger(lun) || lun < 0 || lun > 16383)
        throw new RangeError(`LUN ${lun} out of range 0..16383`);
      if (units.has(lun)) throw new Error(`LUN ${lun} already exists`);
      lunInventoryChanged();
      units.set(lun, new LogicalUnit(lun, backend, addOpts.persistence));
    },
    removeLun(lun: number): void {
      if (!units.delete(lun)) return;
      lunInventoryChanged();
    },
    hasLun: (lun) => units.has(lun),
    capacityChanged(lun: number): void {
      units.get(lun)?.noticeCapacity(nexuses);
    },
  };
}
