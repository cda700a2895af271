// One TCP connection: frames PDUs, runs the login phase, then hands Full Feature Phase PDUs to
// its session. Owns StatSN, digests on the wire, write backpressure and the NOP-In keepalive.
import { readSync } from "node:fs";
import type { Socket } from "node:net";
import {
  decodeLoginRequest,
  encodeLoginResponse,
  encodeNopIn,
  InitiatorOpcode,
  IscsiProtocolError,
  LOGIN_MAX_DATA_SEGMENT,
  type LoginConfig,
  LoginNegotiation,
  type LoginRequest,
  LoginStatus,
  type LoginTarget,
  opcodeOf,
  type ParsedPdu,
  type Pdu,
  PduParser,
  RESERVED_TAG,
  type SessionParameters,
  serializePdu,
  snAdd,
} from "@livesnap/iscsi";
import type { Logger } from "pino";
import { readIntoBuffer } from "./read-buffer.js";
import { busyPollBudgetUs, ReceivePollPolicy } from "./receive-poll.js";
import type { Session, SessionLink } from "./session.js";

export interface KeepaliveOptions {
  /** Idle time before the target sends a NOP-In ping (ms). 0 disables. */
  intervalMs: number;
  /** Time without any traffic from the initiator after a ping before the connection is dropped. */
  timeoutMs: number;
}

/** What the connection asks of the server when a login completes. */
export interface LoginAuthority {
  readonly loginConfig: LoginConfig;
  /**
   * Create (or reinstate) the session for a completed login. Returns the session, or a login
   * status to fail with.
   */
  establish(
    conn: Connection,
    req: LoginRequest,
    params: SessionParameters,
    target: LoginTarget | undefined,
  ): Session | { status: number; reason: string };
}

/** Bytes queued in the socket above which we stop reading (a slow initiator slows itself). */
const WRITE_HIGH_WATER = 8 * 1024 * 1024;
/** Gathers up to this size are copied into one buffer and written whole (see flush()). */
const STAGING_BYTES = 16 * 1024;
const LOGIN_TIMEOUT_MS = 30_000;
// A bad LIVESNAP_BUSY_POLL_US stops the daemon at start with an error naming it, not at a login.
busyPollBudgetUs();
/** A spin's read: a few commands' PDUs (the socket's own reads take larger gulps). */
const SPIN_READ_BYTES = 64 * 1024;

export class Connection implements SessionLink {
  private readonly parser = new PduParser({
    headerDigest: false,
    dataDigest: false,
    maxRecvDataSegmentLength: LOGIN_MAX_DATA_SEGMENT,
  });
  private digests = { headerDigest: false, dataDigest: false };
  private login: LoginNegotiation | undefined;
  private firstLogin: LoginRequest | undefined;
  session: Session | undefined;
  private statSNValue = 0;
  private expCmdSNDuringLogin = 0;
  private closed = false;
  private lastReceive = Date.now();
  private pingOutstanding = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly loginTimer: NodeJS.Timeout;
  private pausedForWrites = false;
  /** PDU pieces sent since the last flush, and the write callback of each (mostly undefined). */
  private outPieces: Buffer[] = [];
  private outCallbacks: ((() => void) | undefined)[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  private readonly flushBound = (): void => this.flush();
  /** Small gathers are copied here and leave in one plain write; undefined while the socket holds it. */
  private staging: Buffer | undefined;
  readonly remoteAddress: string;
  readonly localAddress: string;
  readonly localPort: number;
  private readonly socket: Socket;
  /** Busy-poll of the socket after the last response (receive-poll.ts); undefined when off. */
  readonly receivePoll: ReceivePollPolicy | undefined;
  private readonly fd: number;
  private spinBuffer: Buffer | undefined;
  /** StatSN at the last flush: how many commands one flush answered. */
  private statSNAtFlush = 0;

  constructor(
    /** From a server listening with pauseOnConnect (see readIntoBuffer). */
    accepted: Socket,
    private readonly authority: LoginAuthority,
    private readonly keepalive: KeepaliveOptions,
    private readonly logger: Logger,
    private readonly onClose: (conn: Connection) => void,
    busyPollUs: number = busyPollBudgetUs(),
  ) {
    this.remoteAddress = `${accepted.remoteAddress}:${accepted.remotePort}`;
    this.localAddress = accepted.localAddress ?? "127.0.0.1";
    this.localPort = accepted.localPort ?? 0;
    const socket = readIntoBuffer(accepted, (chunk, transient) => this.onData(chunk, transient));
    this.socket = socket;
    // The descriptor only for the spin's non-blocking reads; libuv keeps owning it.
    const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
    this.fd = typeof fd === "number" ? fd : -1;
    this.receivePoll = busyPollUs > 0 && this.fd >= 0 ? new ReceivePollPolicy(busyPollUs, this) : undefined;
    socket.setNoDelay(true);
    socket.on("error", (err) => this.logger.debug({ err, remote: this.remoteAddress }, "socket error"));
    socket.on("close", () => this.teardown("connection closed"));
    socket.on("drain", () => {
      if (this.pausedForWrites) {
        this.pausedForWrites = false;
        socket.resume();
      }
    });
    this.loginTimer = setTimeout(() => {
      if (!this.session) this.drop("login timeout");
    }, LOGIN_TIMEOUT_MS);
    this.loginTimer.unref();
  }

  /** Connection ID from the login (0 before it). */
  get cid(): number {
    return this.firstLogin?.cid ?? 0;
  }

  get statSN(): number {
    return this.statSNValue;
  }

  private readonly onPduBound = (pdu: ParsedPdu): void => this.onPdu(pdu);

  private onData(chunk: Buffer, transient: boolean, spun = false): void {
    if (this.closed || chunk.length === 0) return;
    this.receivePoll?.received(spun);
    this.lastReceive = Date.now();
    this.pingOutstanding = false;
    try {
      if (transient) this.parser.feedTransient(chunk, this.onPduBound);
      else this.parser.feed(chunk, this.onPduBound);
    } catch (e) {
      if (e instanceof IscsiProtocolError) {
        this.logger.warn(
          { remote: this.remoteAddress, code: e.code, msg: e.message },
          "protocol error: dropping connection",
        );
      } else {
        this.logger.error(
          { err: e, remote: this.remoteAddress },
          "internal error on connection: dropping it",
        );
      }
      // The Reject (if any) is still corked: flush it, then close.
      this.endAfterFlush(1000);
    }
  }

  private onPdu(pdu: ParsedPdu): void {
    if (this.closed) return;
    if (this.session) {
      this.session.handlePdu(pdu);
      return;
    }
    if (opcodeOf(pdu.bhs) !== InitiatorOpcode.loginRequest) {
      throw new IscsiProtocolError(
        "invalid-field",
        `opcode 0x${opcodeOf(pdu.bhs).toString(16)} before login`,
      );
    }
    this.onLoginPdu(pdu);
  }

  private onLoginPdu(pdu: ParsedPdu): void {
    const req = decodeLoginRequest(pdu);
    if (!this.firstLogin) {
      this.firstLogin = req;
      this.login = new LoginNegotiation(this.authority.loginConfig);
      this.expCmdSNDuringLogin = req.cmdSN;
      // StatSN starts where the initiator expects it (its ExpStatSN), a common choice.
      this.statSNValue = req.expStatSN >>> 0;
    } else if (
      !req.isid.equals(this.firstLogin.isid) ||
      req.tsih !== this.firstLogin.tsih ||
      req.cid !== this.firstLogin.cid
    ) {
      this.sendLoginFailure(req, LoginStatus.initiatorError, "ISID/TSIH/CID changed during login");
      return;
    }
    const login = this.login as LoginNegotiation;
    const outcome = login.handle(req);
    if (outcome.kind === "fail") {
      this.sendLoginFailure(req, outcome.answer.status, outcome.reason, outcome.answer.data);
      return;
    }
    if (outcome.kind === "continue") {
      this.sendLoginResponse(req, outcome.answer, req.tsih);
      return;
    }
    const established = this.authority.establish(this, this.firstLogin, outcome.params, outcome.target);
    if (!("tsih" in established)) {
      this.sendLoginFailure(req, established.status, established.reason);
      return;
    }
    this.session = established;
    established.link = this;
    clearTimeout(this.loginTimer);
    this.sendLoginResponse(req, outcome.answer, established.tsih);
    // Digests and the negotiated segment size apply from the first PDU after the final response.
    const p = outcome.params;
    this.digests = { headerDigest: p.headerDigest === "CRC32C", dataDigest: p.dataDigest === "CRC32C" };
    this.parser.setLimits({ ...this.digests, maxRecvDataSegmentLength: p.targetMaxRecvDataSegmentLength });
    this.startKeepalive();
  }

  private sendLoginResponse(
    req: LoginRequest,
    answer: { transit: boolean; currentStage: number; nextStage: number; status: number; data: Buffer },
    tsih: number,
  ): void {
    const numbers = this.session
      ? this.session.numbers()
      : { expCmdSN: this.expCmdSNDuringLogin, maxCmdSN: snAdd(this.expCmdSNDuringLogin, 0) };
    this.send(
      encodeLoginResponse({
        transit: answer.transit,
        continue: false,
        currentStage: answer.currentStage,
        nextStage: answer.nextStage,
        isid: req.isid,
        tsih,
        itt: req.itt,
        status: answer.status,
        data: answer.data,
        statSN: 0,
        ...numbers,
      }),
      "status",
    );
  }

  private sendLoginFailure(
    req: LoginRequest,
    status: number,
    reason: string,
    data: Buffer = Buffer.alloc(0),
  ): void {
    this.logger.info(
      {
        remote: this.remoteAddress,
        initiator: this.login?.initiatorName,
        target: this.login?.targetName,
        status: `0x${status.toString(16).padStart(4, "0")}`,
        reason,
      },
      "login failed",
    );
    this.sendLoginResponse(
      req,
      { transit: false, currentStage: req.currentStage, nextStage: 0, status, data },
      0,
    );
    this.endAfterFlush();
  }

  send(pdu: Pdu, numbering: "status" | "current-statsn", written?: () => void): void {
    // Dropped, and `written` never runs: nothing of this PDU was queued, but an earlier PDU of the
    // same buffer may still be flushing after end(); a buffer not recycled is only left to the GC.
    if (this.closed) return;
    if (numbering === "status") {
      pdu.bhs.writeUInt32BE(this.statSNValue, 24);
      this.statSNValue = snAdd(this.statSNValue, 1);
    }
    // Digests are computed here, synchronously: only the socket still reads the data afterwards.
    const pieces = serializePdu(pdu, this.digests);
    const out = this.outPieces;
    const callbacks = this.outCallbacks;
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] as Buffer;
      out.push(piece);
      callbacks.push(undefined);
      this.outBytes += piece.length;
    }
    if (written !== undefined) callbacks[callbacks.length - 1] = written;
    // Everything sent before the current callback and its promise jobs settle leaves in one write:
    // a nextTick queued from a promise job runs once the microtask queue is empty, so the
    // completions of one socket read (QD 32) are gathered, and at QD 1 the response leaves without
    // waiting for the check phase (setImmediate cost an event-loop turn and stream corking).
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushBound);
    }
  }

  /** Write what send() queued: one buffer, one copy of a small gather, or one corked writev. */
  private flush(): void {
    this.flushScheduled = false;
    const pieces = this.outPieces;
    const count = pieces.length;
    if (count === 0) return;
    const callbacks = this.outCallbacks;
    const bytes = this.outBytes;
    this.outPieces = [];
    this.outCallbacks = [];
    this.outBytes = 0;
    const socket = this.socket;
    // One status per flush is a queue-depth-1 stream; a batch of them is not, and a spin would
    // only split the next batch of requests.
    const answered = (this.statSNValue - this.statSNAtFlush) >>> 0;
    this.statSNAtFlush = this.statSNValue;
    if (socket.destroyed) {
      // Nothing will read these buffers any more: they can be recycled now.
      for (const cb of callbacks) cb?.();
      return;
    }
    if (count === 1) {
      const cb = callbacks[0];
      if (cb === undefined) socket.write(pieces[0] as Buffer);
      else socket.write(pieces[0] as Buffer, cb);
    } else if (bytes <= STAGING_BYTES && socket.writableLength === 0) {
      // A 4 KiB read's Data-In is a 48-byte header and 4 KiB of data: copying them costs less
      // than the stream's writev path, and the data buffers are free at once.
      const staging = this.staging ?? Buffer.allocUnsafeSlow(STAGING_BYTES);
      let at = 0;
      for (let i = 0; i < count; i++) at += (pieces[i] as Buffer).copy(staging, at);
      socket.write(staging.subarray(0, at));
      // Written to the kernel synchronously (the usual case): the buffer can be reused at once.
      // Otherwise the socket holds it until it is sent, and the next gather takes a new one.
      this.staging = socket.writableLength === 0 ? staging : undefined;
      for (const cb of callbacks) cb?.();
    } else {
      // net.Socket keeps a reference to every Buffer written (no copy) until the write's callback:
      // that is when the data may be recycled, whether it was sent or the socket was destroyed.
      socket.cork();
      for (let i = 0; i < count; i++) {
        const cb = callbacks[i];
        if (cb === undefined) socket.write(pieces[i] as Buffer);
        else socket.write(pieces[i] as Buffer, cb);
      }
      socket.uncork();
    }
    if (socket.writableLength > WRITE_HIGH_WATER && !this.pausedForWrites) {
      this.pausedForWrites = true;
      socket.pause();
    }
    if (
      this.receivePoll !== undefined &&
      answered === 1 &&
      this.session !== undefined &&
      this.session.activeTasks === 0 &&
      socket.writableLength === 0 &&
      !this.pausedForWrites &&
      !this.closed &&
      this.receivePoll.responded()
    ) {
      this.spinForRequest(this.receivePoll);
    }
  }

  /**
   * Non-blocking reads of the socket for up to the policy's budget. Bytes read go through the same
   * framing as libuv's reads; the socket's queue is FIFO and both read on this thread, so order
   * holds. The request's response is flushed on a later tick, which may spin again.
   */
  private spinForRequest(policy: ReceivePollPolicy): void {
    const buffer = this.spinBuffer ?? Buffer.allocUnsafeSlow(SPIN_READ_BYTES);
    this.spinBuffer = buffer;
    const deadline = policy.now() + policy.budgetUs / 1000;
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, buffer, 0, buffer.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EAGAIN" || code === "EWOULDBLOCK") {
          if (policy.now() < deadline) continue;
          policy.spun(false);
          return;
        }
        // The error is consumed by this read: libuv would not see it again.
        policy.spun(false);
        this.logger.debug({ err: e, remote: this.remoteAddress }, "socket error");
        this.drop("socket error");
        return;
      }
      // 0 is the end of the stream: libuv's own read sees it too and closes.
      policy.spun(n > 0);
      if (n > 0) this.onData(buffer.subarray(0, n), true, true);
      return;
    }
  }

  endAfterFlush(graceMs = 5000): void {
    if (this.closed) return;
    this.closed = true;
    this.stopKeepalive();
    this.flush();
    this.socket.end();
    // A peer that never reads must not keep the socket forever.
    setTimeout(() => this.socket.destroy(), graceMs).unref();
    this.teardown("closed by target");
  }

  /** Drop the connection now (protocol error, dead peer, reinstatement, shutdown). */
  drop(reason: string): void {
    this.closed = true;
    this.stopKeepalive();
    this.socket.destroy();
    this.flush(); // destroyed: only recycles what was queued
    this.teardown(reason);
  }

  private tornDown = false;
  private teardown(reason: string): void {
    if (this.tornDown) return;
    this.tornDown = true;
    this.closed = true;
    if (this.receivePoll !== undefined && this.receivePoll.counts.spins > 0) {
      this.logger.debug(
        { remote: this.remoteAddress, busyPoll: this.receivePoll.counts },
        "busy-poll counts",
      );
    }
    clearTimeout(this.loginTimer);
    this.stopKeepalive();
    this.session?.close(reason);
    this.onClose(this);
  }

  private startKeepalive(): void {
    const { intervalMs, timeoutMs } = this.keepalive;
    if (intervalMs <= 0) return;
    const tick = Math.max(50, Math.min(intervalMs, timeoutMs) / 2);
    this.timer = setInterval(() => {
      const idle = Date.now() - this.lastReceive;
      if (this.pingOutstanding && idle > intervalMs + timeoutMs) {
        this.logger.warn(
          { remote: this.remoteAddress, idleMs: idle },
          "initiator not responding to NOP-In: dropping connection",
        );
        this.drop("dead peer");
        return;
      }
      if (!this.pingOutstanding && idle > intervalMs && this.session) {
        this.pingOutstanding = true;
        // A ping the initiator must answer: TTT set, ITT reserved; StatSN is not advanced.
        this.send(
          encodeNopIn({
            lun: 0,
            itt: RESERVED_TAG,
            ttt: 0x4e4f5000 + (this.statSNValue & 0xff),
            data: Buffer.alloc(0),
            statSN: this.statSNValue,
            ...this.session.numbers(),
          }),
          "current-statsn",
        );
      }
    }, tick);
    this.timer.unref();
  }

  private stopKeepalive(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
