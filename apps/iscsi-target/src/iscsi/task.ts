// One SCSI task on a session: its admission, the Data-Out it still waits for (immediate,
// unsolicited, then R2T-solicited bursts), and its lifecycle until the response is sent.
import type { Admission, DataInBuffers, ScsiCommandRequest } from "@livesnap/iscsi";
import { dataOutPool } from "./data-out-pool.js";

export type ReadyAdmission = Extract<Admission, { kind: "ready" }>;

export type TaskState =
  /** Waiting for Data-Out (unsolicited or solicited). */
  | "collecting"
  /** Handed to the SCSI side; waiting for its response. */
  | "executing"
  /** Response sent or task aborted: nothing more goes out for it. */
  | "done";

/** An R2T sent and not yet fully answered. */
export interface OutstandingR2T {
  ttt: number;
  r2tSN: number;
  offset: number;
  length: number;
  received: number;
  /** DataSN the next Data-Out answering this R2T must carry (each sequence starts at 0). */
  nextDataSN: number;
}

export class ScsiTask implements DataInBuffers {
  state: TaskState = "collecting";
  aborted = false;
  /** Bytes collected into `buffer` (data arrives in order; DataPDUInOrder=Yes). */
  received = 0;
  /** Unsolicited data still to come (command PDU had F=0). */
  unsolicitedPending: boolean;
  /** DataSN the next unsolicited Data-Out must carry. */
  unsolicitedDataSN = 0;
  /** A Data-Out arrived out of DataSN order: its data is discarded and the task fails once all has arrived. */
  dataSequenceError = false;
  /** Next offset to ask for with an R2T. */
  nextR2TOffset: number;
  r2tSN = 0;
  /** Outstanding R2Ts by TTT; created with the first R2T (most commands never need one). */
  private r2tMap: Map<number, OutstandingR2T> | undefined;
  /** Data-In PDUs + R2Ts sent, for ExpDataSN in the SCSI Response. */
  dataSN = 0;
  /** performance.now() when the command PDU arrived (command latency metric). */
  readonly arrivedAt = performance.now();
  /** Allocated when the first Data-Out byte arrives: a command alone never costs its EDTL in memory. */
  private data: Buffer | undefined;
  /** Bytes of `data` below this offset are initialised (copied or zeroed): the buffer is recycled. */
  private filled = 0;
  /** The pool buffer `data` is carved from, until it goes back with releaseBuffer(). */
  private pooled: Buffer | undefined;
  /** The pool buffer a READ reads its Data-In into, until it goes back with releaseDataIn(). */
  private dataIn: Buffer | undefined;

  constructor(
    readonly request: ScsiCommandRequest,
    /** What admission decided; "immediate" tasks only drain unsolicited data before answering. */
    readonly admission: Admission,
    /** Bytes of Data-Out the SCSI side needs (0 for reads and immediate answers). */
    readonly wanted: number,
    /** How much the initiator may send unsolicited (immediate + Data-Out with TTT 0xffffffff). */
    readonly unsolicitedLimit: number,
  ) {
    this.unsolicitedPending = request.write && !request.final;
    this.nextR2TOffset = 0;
  }

  /** The Data-Out collected for execute (undefined when the SCSI side wants none). */
  get buffer(): Buffer | undefined {
    if (this.wanted === 0) return undefined;
    this.data ??= Buffer.alloc(this.wanted);
    if (this.filled < this.wanted) {
      this.data.fill(0, this.filled);
      this.filled = this.wanted;
    }
    return this.data;
  }

  get itt(): number {
    return this.request.itt;
  }

  get lun(): number {
    return this.request.lun;
  }

  /**
   * Copy Data-Out bytes to `offset` (of the EDTL-sized transfer). `data` may be a view into the
   * connection's read buffer, valid only during this call: it is always copied, never kept. Bytes
   * beyond what the SCSI side wants are accepted and dropped (EDTL larger than the CDB's
   * transfer: an underflow).
   */
  place(offset: number, data: Buffer): void {
    const wanted = this.wanted;
    if (offset < wanted) {
      const n = Math.min(data.length, wanted - offset);
      if (this.data === undefined) {
        this.pooled = dataOutPool.take(wanted);
        this.data = this.pooled.subarray(0, wanted);
      }
      // A gap (out-of-order offset) must not expose an earlier command's bytes: zero it.
      if (offset > this.filled) this.data.fill(0, this.filled, offset);
      data.copy(this.data, offset, 0, n);
      if (offset + n > this.filled) this.filled = offset + n;
    }
    const end = offset + data.length;
    if (end > this.received) this.received = end;
  }

  /**
   * The command is over and nothing holds its Data-Out any more (the SCSI side has answered and
   * kept none of it): its buffer goes back to the pool for a later command.
   */
  releaseBuffer(): void {
    const pooled = this.pooled;
    if (pooled === undefined) return;
    this.pooled = undefined;
    this.data = undefined;
    this.filled = 0;
    dataOutPool.release(pooled);
  }

  /**
   * Data-In buffer for execute() (DataInBuffers): from the pool, owned by this task, which gives
   * it back once with releaseDataIn(). A second request in one command is not pooled.
   */
  dataInBuffer(length: number): Uint8Array {
    if (this.dataIn !== undefined) return Buffer.allocUnsafeSlow(length);
    const buf = dataOutPool.take(length);
    this.dataIn = buf;
    return buf;
  }

  get holdsDataIn(): boolean {
    return this.dataIn !== undefined;
  }

  /**
   * Execute has settled and the socket holds none of the Data-In: the buffer goes back to the
   * pool. Only the first call returns it (the task lets go of it), so it cannot go back twice.
   */
  releaseDataIn(): void {
    const buf = this.dataIn;
    if (buf === undefined) return;
    this.dataIn = undefined;
    dataOutPool.release(buf);
  }

  get outstandingR2Ts(): number {
    return this.r2tMap?.size ?? 0;
  }

  addR2T(r2t: OutstandingR2T): void {
    this.r2tMap ??= new Map();
    this.r2tMap.set(r2t.ttt, r2t);
  }

  r2t(ttt: number): OutstandingR2T | undefined {
    return this.r2tMap?.get(ttt);
  }

  removeR2T(ttt: number): void {
    this.r2tMap?.delete(ttt);
  }

  /** Forget every outstanding R2T; returns their TTTs. */
  clearR2Ts(): Iterable<number> {
    const map = this.r2tMap;
    this.r2tMap = undefined;
    return map ? map.keys() : [];
  }

  /** All data the SCSI side needs is in, and no unsolicited PDU is still on its way. */
  get dataComplete(): boolean {
    return !this.unsolicitedPending && this.received >= this.wanted && this.outstandingR2Ts === 0;
  }
}
