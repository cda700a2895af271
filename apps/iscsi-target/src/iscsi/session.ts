// A logged-in iSCSI session (one connection: MaxConnections=1) in Full Feature Phase: the CmdSN
// window, SCSI tasks with their R2T/Data-Out and Data-In traffic, task management, NOP, Text
// and Logout. It writes through a SessionLink (the connection) and never touches the socket.
import {
  type Admission,
  Asc,
  AsyncEvent,
  decodeDataOut,
  decodeLogoutRequest,
  decodeNopOut,
  decodeScsiCommand,
  decodeTaskManagement,
  decodeTextRequest,
  encodeAsyncMessage,
  encodeDataIn,
  encodeLogoutResponse,
  encodeNopIn,
  encodeR2T,
  encodeReject,
  encodeScsiResponse,
  encodeTextResponse,
  encodeTmfResponse,
  fixedSense,
  InitiatorOpcode,
  IscsiProtocolError,
  type ItNexus,
  isImmediate,
  nexusKey,
  opcodeOf,
  type ParsedPdu,
  type Pdu,
  parseText,
  RESERVED_TAG,
  RejectReason,
  type Residual,
  type ScsiCommand,
  type ScsiCommandRequest,
  type ScsiResponse,
  ScsiStatus,
  type ScsiTargetPort,
  SenseKey,
  type SessionParameters,
  serializeText,
  snAdd,
  snLessThan,
  type TaskAttribute,
  type TaskManagementFunction,
  type TextPairs,
  TmfFunction,
  TmfResponse,
} from "@livesnap/iscsi";
import type { Logger } from "pino";
import { residualFor } from "./residual.js";
import type { CommandObserver } from "./server.js";
import { type ReadyAdmission, ScsiTask } from "./task.js";

/** What the session needs from its connection. */
export interface SessionLink {
  /**
   * Send a PDU; `status` PDUs take the next StatSN (stamped by the link at bytes 24..27).
   * `written` runs once the link holds no reference to this PDU or any PDU sent before it (sent,
   * or discarded with the socket); never if the link is closed already (the PDU is dropped).
   */
  send(pdu: Pdu, numbering: "status" | "current-statsn", written?: () => void): void;
  /** StatSN the next status PDU will carry. */
  readonly statSN: number;
  /** Send everything queued, then close the connection. */
  endAfterFlush(): void;
  readonly remoteAddress: string;
}

/** Hooks into the server: discovery answers and resets that span sessions. */
export interface SessionHost {
  discoverTargets(session: Session, value: string): TextPairs;
  /** Abort tasks of every session on this target (LUN reset, warm/cold reset, clear task set). */
  abortTasksOnTarget(targetName: string, lun: number | undefined, except: Session | undefined): void;
  /** Cold reset: drop every connection of the target after the response is sent. */
  dropTargetConnections(targetName: string): void;
  sessionClosed(session: Session, reason: string): void;
}

const TASK_ATTRIBUTES: TaskAttribute[] = ["untagged", "simple", "ordered", "head-of-queue", "aca"];
const EMPTY = Buffer.alloc(0);

export interface SessionOptions {
  tsih: number;
  isid: string;
  params: SessionParameters;
  /** Undefined for discovery sessions. */
  port: ScsiTargetPort | undefined;
  nexus: ItNexus | undefined;
  initialCmdSN: number;
  /** Commands the target accepts at once (the CmdSN window). */
  queueDepth: number;
  logger: Logger;
  onCommandDone?: CommandObserver;
}

export class Session {
  readonly tsih: number;
  readonly isid: string;
  readonly params: SessionParameters;
  readonly port: ScsiTargetPort | undefined;
  readonly nexus: ItNexus | undefined;
  /** `nexusKey(nexus)`, as PREEMPT AND ABORT names the nexuses to abort. */
  readonly nexusKey: string | undefined;
  private readonly onCommandDone: CommandObserver | undefined;
  readonly loggedInAt = new Date();
  private expCmdSN: number;
  private maxCmdSN: number;
  private readonly queueDepth: number;
  private readonly tasks = new Map<number, ScsiTask>();
  private nextTtt = 1;
  /** TTT -> task for outstanding R2Ts. */
  private readonly tttToTask = new Map<number, ScsiTask>();
  private textContinuation: { itt: number; ttt: number; rest: Buffer } | undefined;
  private pendingTextRequest: Buffer[] = [];
  private closed = false;
  private readonly logger: Logger;
  link: SessionLink | undefined;

  constructor(
    opts: SessionOptions,
    private readonly host: SessionHost,
  ) {
    this.tsih = opts.tsih;
    this.isid = opts.isid;
    this.params = opts.params;
    this.port = opts.port;
    this.nexus = opts.nexus;
    this.nexusKey = opts.nexus ? nexusKey(opts.nexus) : undefined;
    this.onCommandDone = opts.onCommandDone;
    this.expCmdSN = opts.initialCmdSN >>> 0;
    this.queueDepth = opts.queueDepth;
    this.maxCmdSN = snAdd(this.expCmdSN, opts.queueDepth - 1);
    this.logger = opts.logger;
  }

  get targetName(): string | undefined {
    return this.params.targetName;
  }

  get activeTasks(): number {
    return this.tasks.size;
  }

  /** ExpCmdSN/MaxCmdSN for the next outgoing PDU. MaxCmdSN only grows as tasks finish (backpressure). */
  numbers(): { expCmdSN: number; maxCmdSN: number } {
    const room = Math.max(0, this.queueDepth - this.tasks.size);
    const candidate = snAdd(this.expCmdSN, room - 1);
    if (snLessThan(this.maxCmdSN, candidate)) this.maxCmdSN = candidate;
    return { expCmdSN: this.expCmdSN, maxCmdSN: this.maxCmdSN };
  }

  /** Handle one Full Feature Phase PDU. Throws IscsiProtocolError for errors that end the connection. */
  handlePdu(pdu: ParsedPdu): void {
    if (this.closed) return;
    const opcode = opcodeOf(pdu.bhs);
    if (pdu.dataDigestError) {
      // ERL 0: the data is lost and cannot be recovered; reject and drop the connection.
      this.reject(pdu, RejectReason.dataDigestError);
      throw new IscsiProtocolError("invalid-field", "data digest error");
    }
    switch (opcode) {
      case InitiatorOpcode.scsiCommand:
        this.onScsiCommand(pdu);
        return;
      case InitiatorOpcode.scsiDataOut:
        this.onDataOut(pdu);
        return;
      case InitiatorOpcode.nopOut:
        this.onNopOut(pdu);
        return;
      case InitiatorOpcode.taskManagementRequest:
        this.onTaskManagement(pdu);
        return;
      case InitiatorOpcode.textRequest:
        this.onText(pdu);
        return;
      case InitiatorOpcode.logoutRequest:
        this.onLogout(pdu);
        return;
      case InitiatorOpcode.loginRequest:
        // A Login Request in Full Feature Phase is a protocol error (RFC 7143 §11.12).
        this.reject(pdu, RejectReason.protocolError);
        throw new IscsiProtocolError("invalid-field", "Login Request in Full Feature Phase");
      case InitiatorOpcode.snackRequest:
        // ErrorRecoveryLevel is 0: SNACK is not supported.
        this.reject(pdu, RejectReason.commandNotSupported);
        return;
      default:
        this.reject(pdu, RejectReason.commandNotSupported);
        return;
    }
  }

  /**
   * CmdSN rules (RFC 7143 §4.2.2.1): immediate PDUs do not advance it; a non-immediate PDU must
   * carry ExpCmdSN. Anything outside the window is dropped silently. Returns false to drop.
   */
  private acceptCmdSN(pdu: Pdu, cmdSN: number): boolean {
    if (isImmediate(pdu.bhs)) return true;
    if (cmdSN !== this.expCmdSN) {
      this.logger.debug({ cmdSN, expCmdSN: this.expCmdSN }, "command outside the CmdSN window dropped");
      return false;
    }
    if (snLessThan(this.maxCmdSN, cmdSN)) {
      this.logger.debug({ cmdSN, maxCmdSN: this.maxCmdSN }, "command beyond MaxCmdSN dropped");
      return false;
    }
    this.expCmdSN = snAdd(this.expCmdSN, 1);
    return true;
  }

  // ---- SCSI commands ------------------------------------------------------------------------

  private onScsiCommand(pdu: ParsedPdu): void {
    // CmdSN first: a command we then reject still took its number, or the window would stall.
    if (!this.acceptCmdSN(pdu, pdu.bhs.readUInt32BE(24))) return;
    let req: ScsiCommandRequest;
    try {
      req = decodeScsiCommand(pdu);
    } catch {
      this.reject(pdu, RejectReason.invalidPduField);
      return;
    }
    if (this.tasks.has(req.itt)) {
      // The ITT must be unique among the session's active tasks.
      this.reject(pdu, RejectReason.taskInProgress);
      return;
    }
    const port = this.port;
    const nexus = this.nexus;
    if (!port || !nexus) {
      // Discovery sessions carry no SCSI commands.
      this.reject(pdu, RejectReason.protocolError);
      return;
    }
    const edtl = req.expectedDataTransferLength;
    // Immediate data longer than FirstBurstLength or EDTL, or on a read, is a protocol error.
    if (
      req.immediateData.length > 0 &&
      (!req.write || req.immediateData.length > Math.min(edtl, this.params.firstBurstLength))
    ) {
      this.reject(pdu, RejectReason.protocolError);
      return;
    }
    if (req.immediateData.length > 0 && !this.params.immediateData) {
      this.reject(pdu, RejectReason.protocolError);
      return;
    }
    if (!req.write && !req.final) {
      this.reject(pdu, RejectReason.protocolError);
      return;
    }

    const cmd: ScsiCommand = {
      lun: req.lun,
      cdb: req.cdb,
      nexus,
      expectedDataTransferLength: edtl,
      readBit: req.read,
      writeBit: req.write,
      taskTag: req.itt,
      attribute: TASK_ATTRIBUTES[req.attribute] ?? "simple",
    };
    // Synchronous at PDU arrival: the engine's live-snapshot rule stamps the write here.
    let admission: Admission;
    try {
      admission = port.admit(cmd);
    } catch (e) {
      // A bug or an unexpected backend error must cost one command, not the connection.
      this.logger.error({ err: e, itt: req.itt, lun: req.lun }, "SCSI admit failed");
      admission = {
        kind: "immediate",
        response: { status: ScsiStatus.checkCondition, sense: HARDWARE_ERROR_SENSE },
      };
    }
    const wanted = admission.kind === "ready" && req.write ? Math.min(admission.dataOutLength, edtl) : 0;
    const unsolicitedLimit = this.params.initialR2T
      ? req.immediateData.length
      : Math.min(edtl, this.params.firstBurstLength);
    const task = new ScsiTask(req, admission, wanted, unsolicitedLimit);
    if (req.write && this.params.initialR2T && !req.final) {
      // With InitialR2T=Yes no unsolicited Data-Out may follow.
      if (admission.kind === "ready") port.abandon(admission);
      this.reject(pdu, RejectReason.protocolError);
      return;
    }
    this.tasks.set(req.itt, task);
    if (req.immediateData.length > 0) task.place(0, req.immediateData);
    this.advance(task);
  }

  /** Move a task forward: more R2Ts, execution, or the immediate answer. */
  private advance(task: ScsiTask): void {
    if (task.state !== "collecting" || task.aborted) return;
    if (task.dataSequenceError) {
      // No more R2Ts; answer when every sequence already asked for has ended (its F bit).
      if (task.unsolicitedPending || task.outstandingR2Ts > 0) return;
      if (task.admission.kind === "ready") this.port?.abandon(task.admission);
      task.releaseBuffer(); // never executed: nothing holds the data placed before the error
      this.complete(task, { status: ScsiStatus.checkCondition, sense: PROTOCOL_SERVICE_CRC_ERROR_SENSE });
      return;
    }
    if (!task.dataComplete) {
      this.sendR2Ts(task);
      return;
    }
    task.state = "executing";
    const admission = task.admission;
    if (admission.kind === "immediate") {
      this.complete(task, admission.response);
      return;
    }
    const port = this.port as ScsiTargetPort;
    const dataOut = task.buffer;
    let result: Promise<ScsiResponse>;
    try {
      result = port.execute(admission, dataOut, task);
    } catch (e) {
      result = Promise.reject(e);
    }
    result.then(
      (response) => {
        // A GOOD answer without Data-In holds none of the Data-Out (the engine copies what it keeps
        // past its acknowledgement): the buffer can serve the next command.
        if (response.status === ScsiStatus.good && response.dataIn === undefined) task.releaseBuffer();
        this.complete(task, response);
      },
      (e: unknown) => {
        this.logger.error({ err: e, itt: task.itt, lun: task.lun }, "SCSI execute failed");
        this.complete(task, { status: ScsiStatus.checkCondition, sense: HARDWARE_ERROR_SENSE });
      },
    );
  }

  private sendR2Ts(task: ScsiTask): void {
    // Unsolicited data first; R2Ts only for what remains after it (RFC 7143 §4.2.2.2).
    if (task.unsolicitedPending) return;
    const maxOutstanding = this.params.maxOutstandingR2T;
    if (task.nextR2TOffset < task.received) task.nextR2TOffset = task.received;
    while (task.outstandingR2Ts < maxOutstanding && task.nextR2TOffset < task.wanted) {
      const offset = task.nextR2TOffset;
      const length = Math.min(this.params.maxBurstLength, task.wanted - offset);
      const ttt = this.allocateTtt();
      const r2tSN = task.r2tSN++;
      task.dataSN++;
      task.addR2T({ ttt, r2tSN, offset, length, received: 0, nextDataSN: 0 });
      this.tttToTask.set(ttt, task);
      task.nextR2TOffset = offset + length;
      const link = this.link;
      if (!link) return;
      link.send(
        encodeR2T({
          lun: task.lun,
          itt: task.itt,
          ttt,
          r2tSN,
          bufferOffset: offset,
          desiredLength: length,
          statSN: link.statSN,
          ...this.numbers(),
        }),
        "current-statsn",
      );
    }
  }

  private allocateTtt(): number {
    for (;;) {
      const ttt = this.nextTtt;
      this.nextTtt = this.nextTtt >= 0xfffffffe ? 1 : this.nextTtt + 1;
      if (!this.tttToTask.has(ttt)) return ttt;
    }
  }

  private onDataOut(pdu: ParsedPdu): void {
    const d = decodeDataOut(pdu);
    const task = this.tasks.get(d.itt);
    if (task?.state !== "collecting") {
      // Late data for an aborted or finished task: harmless, drop it.
      if (!task) this.logger.debug({ itt: d.itt }, "Data-Out for unknown task dropped");
      return;
    }
    const edtl = task.request.expectedDataTransferLength;
    if (d.bufferOffset + d.data.length > edtl) {
      this.reject(pdu, RejectReason.protocolError);
      return;
    }
    if (d.ttt === RESERVED_TAG) {
      if (!task.unsolicitedPending || d.bufferOffset + d.data.length > task.unsolicitedLimit) {
        this.reject(pdu, RejectReason.protocolError);
        return;
      }
      if (d.dataSN !== task.unsolicitedDataSN) this.dataSequenceError(task, d.dataSN, task.unsolicitedDataSN);
      task.unsolicitedDataSN++;
      if (!task.dataSequenceError) task.place(d.bufferOffset, d.data);
      if (d.final) task.unsolicitedPending = false;
    } else {
      const r2t = task.r2t(d.ttt);
      if (!r2t || d.bufferOffset < r2t.offset || d.bufferOffset + d.data.length > r2t.offset + r2t.length) {
        this.reject(pdu, RejectReason.invalidPduField);
        return;
      }
      if (d.dataSN !== r2t.nextDataSN) this.dataSequenceError(task, d.dataSN, r2t.nextDataSN);
      r2t.nextDataSN++;
      if (!task.dataSequenceError) task.place(d.bufferOffset, d.data);
      r2t.received += d.data.length;
      if (d.final || r2t.received >= r2t.length) {
        task.removeR2T(d.ttt);
        this.tttToTask.delete(d.ttt);
      }
    }
    this.advance(task);
  }

  /**
   * A Data-Out out of DataSN order implies an earlier data PDU lost to a digest error (RFC 7143
   * §7.9), handled as one (§7.8): at ERL 0 there is no recovery R2T, so the task ends with CHECK
   * CONDITION "protocol service CRC error" once all its data has arrived; the session and the
   * initiator's other tasks go on.
   */
  private dataSequenceError(task: ScsiTask, got: number, expected: number): void {
    if (task.dataSequenceError) return;
    task.dataSequenceError = true;
    this.logger.warn(
      { itt: task.itt, lun: task.lun, dataSN: got, expected },
      "Data-Out DataSN out of sequence: the command fails with PROTOCOL SERVICE CRC ERROR",
    );
  }

  /** Send the task's data and status, then forget it. */
  private complete(task: ScsiTask, response: ScsiResponse): void {
    if (task.state === "done") return;
    task.state = "done";
    this.forget(task);
    const req = task.request;
    const observe = this.onCommandDone;
    if (observe !== undefined) {
      const kind = req.read ? "read" : req.write ? "write" : "other";
      observe(this.params.targetName ?? "", req.lun, kind, (performance.now() - task.arrivedAt) / 1000);
    }
    const link = this.link;
    if (task.aborted || this.closed || !link) {
      // Nothing goes out and execute() has settled (complete() runs after it): no one holds it.
      task.releaseDataIn();
      return;
    }
    const edtl = req.expectedDataTransferLength;
    const data = response.dataIn;
    let residual: Residual;
    const cdbOut =
      task.admission.kind === "ready" ? (task.admission.cdbDataOutLength ?? task.admission.dataOutLength) : 0;
    if (req.write || cdbOut > 0) {
      // What the CDB describes against EDTL, even when EDTL is 0 and the W bit absent.
      residual = residualFor(edtl, cdbOut);
    } else if (data && data.length > 0) {
      residual = residualFor(edtl, data.length);
    } else {
      residual = residualFor(edtl, 0);
    }

    const toSend = data && req.read ? Math.min(data.length, edtl) : 0;
    // The window does not move while this task's PDUs go out: compute it once.
    const { expCmdSN, maxCmdSN } = this.numbers();
    const collapse = response.status === ScsiStatus.good && !response.sense && toSend > 0;
    // Data-In may be a view of the task's pool buffer: it goes back when the socket is done with
    // the last PDU that carries (or follows) it, after its digest was computed in send().
    const release = toSend > 0 && task.holdsDataIn ? () => task.releaseDataIn() : undefined;
    if (release === undefined) task.releaseDataIn();
    if (toSend > 0 && data) {
      const segment = this.params.initiatorMaxRecvDataSegmentLength;
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      const burst = this.params.maxBurstLength;
      for (let offset = 0; offset < toSend; ) {
        // A Data-In sequence holds at most MaxBurstLength bytes; F ends each one (RFC 7143 §11.7.1).
        const burstEnd = (Math.floor(offset / burst) + 1) * burst;
        const len = Math.min(segment, toSend - offset, burstEnd - offset);
        const last = offset + len >= toSend;
        const endOfSequence = last || offset + len === burstEnd;
        const withStatus = last && collapse;
        link.send(
          encodeDataIn({
            final: endOfSequence,
            statusPresent: withStatus,
            status: response.status,
            residual,
            lun: req.lun,
            itt: req.itt,
            statSN: link.statSN,
            expCmdSN,
            maxCmdSN,
            dataSN: task.dataSN++,
            bufferOffset: offset,
            // One PDU carrying all of the buffer (a 4 KiB read) needs no view of it.
            data: len === buf.length ? buf : buf.subarray(offset, offset + len),
          }),
          withStatus ? "status" : "current-statsn",
          withStatus ? release : undefined,
        );
        offset += len;
      }
      if (collapse) return;
    }
    link.send(
      encodeScsiResponse({
        itt: req.itt,
        response: 0,
        status: response.status,
        residual,
        expDataSN: task.dataSN,
        ...(response.sense ? { sense: response.sense } : {}),
        statSN: 0,
        expCmdSN,
        maxCmdSN,
      }),
      "status",
      release,
    );
  }

  private forget(task: ScsiTask): void {
    if (this.tasks.get(task.itt) === task) this.tasks.delete(task.itt);
    for (const ttt of task.clearR2Ts()) this.tttToTask.delete(ttt);
  }

  /** Abort a task: its response is never sent; unexecuted admissions are released. */
  abortTask(task: ScsiTask): void {
    if (task.aborted) return;
    task.aborted = true;
    if (task.state === "collecting" && task.admission.kind === "ready") {
      this.port?.abandon(task.admission as ReadyAdmission);
    }
    if (task.state !== "executing") {
      task.state = "done";
      this.forget(task);
    }
    // An executing task finishes in the SCSI layer; complete() then drops its response.
  }

  /** Abort tasks on `lun` (or all LUNs). */
  abortTasks(lun: number | undefined): number {
    let n = 0;
    for (const task of [...this.tasks.values()]) {
      if (lun === undefined || task.lun === lun) {
        this.abortTask(task);
        if (task.state !== "executing") this.forget(task);
        else this.tasks.delete(task.itt);
        n++;
      }
    }
    return n;
  }

  // ---- task management ----------------------------------------------------------------------

  private onTaskManagement(pdu: ParsedPdu): void {
    const tmf = decodeTaskManagement(pdu);
    if (!this.acceptCmdSN(pdu, tmf.cmdSN)) return;
    const port = this.port;
    const nexus = this.nexus;
    const respond = (response: number) => {
      this.link?.send(encodeTmfResponse({ response, itt: tmf.itt, statSN: 0, ...this.numbers() }), "status");
    };
    if (!port || !nexus) {
      respond(TmfResponse.functionRejected);
      return;
    }
    const lunExists = port.luns().includes(tmf.lun);
    const scsiFn: Partial<Record<number, TaskManagementFunction>> = {
      [TmfFunction.abortTaskSet]: "abort-task-set",
      [TmfFunction.clearTaskSet]: "clear-task-set",
      [TmfFunction.clearAca]: "clear-aca",
      [TmfFunction.logicalUnitReset]: "lun-reset",
      [TmfFunction.targetWarmReset]: "target-warm-reset",
      [TmfFunction.targetColdReset]: "target-cold-reset",
    };
    this.logger.info({ fn: tmf.function, lun: tmf.lun, tsih: this.tsih }, "task management");
    switch (tmf.function) {
      case TmfFunction.abortTask: {
        const task = this.tasks.get(tmf.referencedTaskTag);
        if (task && task.lun === tmf.lun) {
          this.abortTask(task);
          this.tasks.delete(task.itt);
          respond(TmfResponse.functionComplete);
          return;
        }
        // Not found (RFC 7143 §11.5.1): RefCmdSN inside the CmdSN window and before the TMF means
        // the command never arrived: "Function complete". Behind the window it already completed
        // (its response went out before this one), or it never existed: "Task does not exist".
        const notYetReceived =
          !snLessThan(tmf.refCmdSN, this.expCmdSN) &&
          !snLessThan(this.maxCmdSN, tmf.refCmdSN) &&
          snLessThan(tmf.refCmdSN, tmf.cmdSN);
        respond(notYetReceived ? TmfResponse.functionComplete : TmfResponse.taskDoesNotExist);
        return;
      }
      case TmfFunction.abortTaskSet:
      case TmfFunction.clearAca:
        if (!lunExists) {
          respond(TmfResponse.lunDoesNotExist);
          return;
        }
        if (tmf.function === TmfFunction.abortTaskSet) this.abortTasks(tmf.lun);
        port.taskManagement(scsiFn[tmf.function] as TaskManagementFunction, tmf.lun, nexus);
        respond(TmfResponse.functionComplete);
        return;
      case TmfFunction.clearTaskSet:
      case TmfFunction.logicalUnitReset:
        if (!lunExists) {
          respond(TmfResponse.lunDoesNotExist);
          return;
        }
        this.abortTasks(tmf.lun);
        this.host.abortTasksOnTarget(this.targetName ?? "", tmf.lun, this);
        port.taskManagement(scsiFn[tmf.function] as TaskManagementFunction, tmf.lun, nexus);
        respond(TmfResponse.functionComplete);
        return;
      case TmfFunction.targetWarmReset:
      case TmfFunction.targetColdReset:
        this.abortTasks(undefined);
        this.host.abortTasksOnTarget(this.targetName ?? "", undefined, this);
        port.taskManagement(scsiFn[tmf.function] as TaskManagementFunction, tmf.lun, nexus);
        respond(TmfResponse.functionComplete);
        if (tmf.function === TmfFunction.targetColdReset)
          this.host.dropTargetConnections(this.targetName ?? "");
        return;
      case TmfFunction.taskReassign:
        respond(TmfResponse.taskReassignmentNotSupported);
        return;
      default:
        respond(TmfResponse.functionNotSupported);
        return;
    }
  }

  // ---- NOP, Text, Logout --------------------------------------------------------------------

  private onNopOut(pdu: ParsedPdu): void {
    const nop = decodeNopOut(pdu);
    if (nop.itt === RESERVED_TAG) {
      // An answer to our NOP-In (the connection already counted it as traffic) or a ping needing
      // no reply. It must be immediate; either way nothing to send.
      return;
    }
    if (!this.acceptCmdSN(pdu, nop.cmdSN)) return;
    const data = Buffer.from(nop.data.subarray(0, this.params.initiatorMaxRecvDataSegmentLength));
    this.link?.send(
      encodeNopIn({
        lun: Math.max(nop.lun, 0),
        itt: nop.itt,
        ttt: RESERVED_TAG,
        data,
        statSN: 0,
        ...this.numbers(),
      }),
      "status",
    );
  }

  private onText(pdu: ParsedPdu): void {
    const req = decodeTextRequest(pdu);
    if (!this.acceptCmdSN(pdu, req.cmdSN)) return;
    const maxSegment = this.params.initiatorMaxRecvDataSegmentLength;
    const send = (data: Buffer, more: boolean, ttt: number) =>
      this.link?.send(
        encodeTextResponse({
          final: !more,
          continue: more,
          lun: 0,
          itt: req.itt,
          ttt,
          data,
          statSN: 0,
          ...this.numbers(),
        }),
        "status",
      );
    // Continuing a long answer: the initiator asks for the next part with our TTT.
    if (req.ttt !== RESERVED_TAG) {
      const cont = this.textContinuation;
      if (!cont || cont.ttt !== req.ttt || cont.itt !== req.itt) {
        this.reject(pdu, RejectReason.invalidPduField);
        return;
      }
      this.sendTextPart(cont.rest, req.itt, send, maxSegment);
      return;
    }
    this.textContinuation = undefined;
    if (req.continue) {
      this.pendingTextRequest.push(req.data);
      if (this.pendingTextRequest.reduce((n, b) => n + b.length, 0) > 65536) {
        this.pendingTextRequest = [];
        this.reject(pdu, RejectReason.protocolError);
        return;
      }
      send(EMPTY, false, RESERVED_TAG);
      return;
    }
    const all = Buffer.concat([...this.pendingTextRequest, req.data]);
    this.pendingTextRequest = [];
    let pairs: TextPairs;
    try {
      pairs = parseText(all);
    } catch {
      this.reject(pdu, RejectReason.protocolError);
      return;
    }
    const answers: TextPairs = [];
    for (const [key, value] of pairs) {
      if (key === "SendTargets") answers.push(...this.host.discoverTargets(this, value));
      else answers.push([key, "NotUnderstood"]);
    }
    this.sendTextPart(serializeText(answers), req.itt, send, maxSegment);
  }

  private sendTextPart(
    text: Buffer,
    itt: number,
    send: (data: Buffer, more: boolean, ttt: number) => void,
    maxSegment: number,
  ): void {
    if (text.length <= maxSegment) {
      this.textContinuation = undefined;
      send(text, false, RESERVED_TAG);
      return;
    }
    const ttt = this.allocateTtt();
    this.textContinuation = { itt, ttt, rest: text.subarray(maxSegment) };
    send(text.subarray(0, maxSegment), true, ttt);
  }

  private onLogout(pdu: ParsedPdu): void {
    const req = decodeLogoutRequest(pdu);
    if (!this.acceptCmdSN(pdu, req.cmdSN)) return;
    // 0 close session, 1 close connection (our only one); 2 recovery is not supported at ERL 0.
    const response = req.reason === 2 ? 2 : 0;
    this.link?.send(
      encodeLogoutResponse({
        response,
        itt: req.itt,
        time2Wait: 0,
        time2Retain: 0,
        statSN: 0,
        ...this.numbers(),
      }),
      "status",
    );
    if (response === 0) {
      this.close("logout");
      this.link?.endAfterFlush();
    }
  }

  reject(pdu: Pdu, reason: number): void {
    this.link?.send(encodeReject({ reason, rejectedBhs: pdu.bhs, statSN: 0, ...this.numbers() }), "status");
  }

  /** Ask the initiator to log out within `seconds` (Async Message, event 1): a clean shutdown. */
  requestLogout(seconds: number): void {
    if (this.closed) return;
    this.link?.send(
      encodeAsyncMessage({
        lun: 0,
        event: AsyncEvent.requestLogout,
        vcode: 0,
        parameter1: 0,
        parameter2: 0,
        parameter3: seconds,
        statSN: 0,
        ...this.numbers(),
      }),
      "status",
    );
  }

  /** Abort everything and tell the SCSI side the nexus is gone. Idempotent. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.abortTasks(undefined);
    if (this.nexus) this.port?.nexusLoggedOut(this.nexus);
    this.host.sessionClosed(this, reason);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves when no task is executing (for a draining shutdown), or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.tasks.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }
}

/** HARDWARE ERROR / INTERNAL TARGET FAILURE (fixed format), when the SCSI side throws. */
const HARDWARE_ERROR_SENSE = fixedSense({ key: SenseKey.hardwareError, asc: Asc.internalTargetFailure });

/** ABORTED COMMAND / PROTOCOL SERVICE CRC ERROR (fixed format): RFC 7143 §11.4.7.2. */
const PROTOCOL_SERVICE_CRC_ERROR_SENSE = fixedSense({
  key: SenseKey.abortedCommand,
  asc: Asc.protocolServiceCrcError,
});

export function isidHex(isid: Buffer): string {
  return isid.toString("hex").padStart(12, "0");
}
