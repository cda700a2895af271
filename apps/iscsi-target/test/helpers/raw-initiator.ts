// A minimal initiator over a raw socket, built from the codec, for what libiscsi's tools cannot
// drive: data digests, NOP, task management, malformed PDUs, reinstatement.
import { connect, type Socket } from "node:net";
import {
  encodeLun,
  type ParsedPdu,
  type Pdu,
  PduParser,
  parseText,
  serializePdu,
  serializeText,
  TargetOpcode,
} from "@livesnap/iscsi";

export interface LoginOptions {
  targetName?: string;
  initiatorName?: string;
  isid?: Buffer;
  sessionType?: "Normal" | "Discovery";
  keys?: Record<string, string>;
  /** Non-zero: reinstate a connection of this session. */
  tsih?: number;
}

export class RawInitiator {
  readonly socket: Socket;
  private readonly parser = new PduParser({
    headerDigest: false,
    dataDigest: false,
    maxRecvDataSegmentLength: 16_777_215,
  });
  private readonly queue: ParsedPdu[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  error: Error | undefined;
  digests = { headerDigest: false, dataDigest: false };
  cmdSN = 1;
  expStatSN = 0;
  itt = 1;
  targetMaxRecv = 8192;
  negotiated = new Map<string, string>();

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      try {
        this.parser.feed(chunk, (pdu) => {
          this.queue.push(pdu);
        });
      } catch (e) {
        this.error = e as Error;
      }
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => {});
  }

  static async connect(port: number): Promise<RawInitiator> {
    const socket = connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new RawInitiator(socket);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Next PDU from the target; undefined when the connection closed first or on timeout. */
  async next(timeoutMs = 5000): Promise<ParsedPdu | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pdu = this.queue.shift();
      if (pdu) {
        const opcode = (pdu.bhs[0] as number) & 0x3f;
        // StatSN of status-bearing PDUs (not R2T, not non-final Data-In without status).
        const carriesStatus =
          opcode !== TargetOpcode.readyToTransfer &&
          !(opcode === TargetOpcode.scsiDataIn && ((pdu.bhs[1] as number) & 0x01) === 0) &&
          !(opcode === TargetOpcode.nopIn && pdu.bhs.readUInt32BE(16) === 0xffffffff);
        if (carriesStatus) this.expStatSN = (pdu.bhs.readUInt32BE(24) + 1) >>> 0;
        return pdu;
      }
      if (this.closed || Date.now() >= deadline) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Wait for the target to close the connection. */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) {
      this.queue.length = 0;
      await this.next(Math.max(1, deadline - Date.now()));
    }
    return this.closed;
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  send(pdu: Pdu): void {
    for (const piece of serializePdu(pdu, this.digests)) this.socket.write(piece);
  }

  /** Single-round login straight to Full Feature Phase. Returns the final response. */
  async login(opts: LoginOptions = {}): Promise<ParsedPdu> {
    const keys: Record<string, string> = {
      InitiatorName: opts.initiatorName ?? "iqn.2026-11.test:raw",
      SessionType: opts.sessionType ?? "Normal",
      ...(opts.sessionType === "Discovery" ? {} : { TargetName: opts.targetName ?? "" }),
      ...opts.keys,
    };
    const bhs = Buffer.alloc(48);
    bhs[0] = 0x43;
    bhs[1] = 0x80 | (1 << 2) | 3; // T, CSG=operational, NSG=full feature
    (opts.isid ?? Buffer.from([0x80, 0x12, 0x34, 0x56, 0x00, 0x00])).copy(bhs, 8);
    bhs.writeUInt16BE(opts.tsih ?? 0, 14);
    bhs.writeUInt32BE(this.itt++, 16);
    bhs.writeUInt32BE(this.cmdSN, 24);
    bhs.writeUInt32BE(this.expStatSN, 28);
    this.send({ bhs, ahs: Buffer.alloc(0), data: serializeText(Object.entries(keys)) });
    const rsp = await this.next();
    if (!rsp) throw new Error("no login response");
    for (const [k, v] of parseText(rsp.data)) this.negotiated.set(k, v);
    if (rsp.bhs[36] === 0 && (rsp.bhs[1] as number) & 0x80) {
      this.digests = {
        headerDigest: this.negotiated.get("HeaderDigest") === "CRC32C",
        dataDigest: this.negotiated.get("DataDigest") === "CRC32C",
      };
      this.parser.setLimits(this.digests);
      this.targetMaxRecv = Number(this.negotiated.get("MaxRecvDataSegmentLength") ?? 8192);
    }
    return rsp;
  }

  /** SCSI Command PDU. */
  command(opts: {
    cdb: Buffer;
    lun?: number;
    read?: boolean;
    write?: boolean;
    edtl: number;
    immediateData?: Buffer;
    final?: boolean;
    immediate?: boolean;
  }): number {
    const bhs = Buffer.alloc(48);
    bhs[0] = 0x01 | (opts.immediate ? 0x40 : 0);
    bhs[1] = (opts.final === false ? 0 : 0x80) | (opts.read ? 0x40 : 0) | (opts.write ? 0x20 : 0) | 1;
    encodeLun(bhs, 8, opts.lun ?? 0);
    const itt = this.itt++;
    bhs.writeUInt32BE(itt, 16);
    bhs.writeUInt32BE(opts.edtl, 20);
    bhs.writeUInt32BE(this.cmdSN, 24);
    if (!opts.immediate) this.cmdSN = (this.cmdSN + 1) >>> 0;
    bhs.writeUInt32BE(this.expStatSN, 28);
    opts.cdb.copy(bhs, 32, 0, Math.min(16, opts.cdb.length));
    this.send({ bhs, ahs: Buffer.alloc(0), data: opts.immediateData ?? Buffer.alloc(0) });
    return itt;
  }

  dataOut(opts: {
    itt: number;
    ttt: number;
    offset: number;
    data: Buffer;
    dataSN: number;
    final: boolean;
    lun?: number;
  }): void {
    const bhs = Buffer.alloc(48);
    bhs[0] = 0x05;
    bhs[1] = opts.final ? 0x80 : 0;
    encodeLun(bhs, 8, opts.lun ?? 0);
    bhs.writeUInt32BE(opts.itt, 16);
    bhs.writeUInt32BE(opts.ttt, 20);
    bhs.writeUInt32BE(this.expStatSN, 28);
    bhs.writeUInt32BE(opts.dataSN, 36);
    bhs.writeUInt32BE(opts.offset, 40);
    this.send({ bhs, ahs: Buffer.alloc(0), data: opts.data });
  }

  /** Answer R2Ts for `itt` from `data` until the SCSI Response arrives; returns it. */
  async serveWrite(itt: number, data: Buffer): Promise<ParsedPdu> {
    for (;;) {
      const pdu = await this.next();
      if (!pdu) throw new Error(`connection closed during write ITT ${itt}`);
      const op = (pdu.bhs[0] as number) & 0x3f;
      if (op === TargetOpcode.readyToTransfer && pdu.bhs.readUInt32BE(16) === itt) {
        const ttt = pdu.bhs.readUInt32BE(20);
        const offset = pdu.bhs.readUInt32BE(40);
        const length = pdu.bhs.readUInt32BE(44);
        let sn = 0;
        for (let o = offset; o < offset + length; o += this.targetMaxRecv) {
          const n = Math.min(this.targetMaxRecv, offset + length - o);
          this.dataOut({
            itt,
            ttt,
            offset: o,
            data: data.subarray(o, o + n),
            dataSN: sn++,
            final: o + n >= offset + length,
          });
        }
      } else if (op === TargetOpcode.scsiResponse && pdu.bhs.readUInt32BE(16) === itt) {
        return pdu;
      } else if (op === TargetOpcode.reject) {
        throw new Error(`rejected: reason ${pdu.bhs[2]}`);
      }
    }
  }

  /** Collect Data-In for `itt` until status; returns the data and the status PDU. */
  async collectRead(itt: number, length: number): Promise<{ data: Buffer; status: ParsedPdu }> {
    const data = Buffer.alloc(length);
    for (;;) {
      const pdu = await this.next();
      if (!pdu) throw new Error(`connection closed during read ITT ${itt}`);
      const op = (pdu.bhs[0] as number) & 0x3f;
      if (pdu.bhs.readUInt32BE(16) !== itt) continue;
      if (op === TargetOpcode.scsiDataIn) {
        pdu.data.copy(data, pdu.bhs.readUInt32BE(40));
        if ((pdu.bhs[1] as number) & 0x01) return { data, status: pdu };
      } else if (op === TargetOpcode.scsiResponse) {
        return { data, status: pdu };
      }
    }
  }

  nopOut(opts: { itt?: number; ttt?: number; data?: Buffer; immediate?: boolean } = {}): number {
    const bhs = Buffer.alloc(48);
    bhs[0] = 0x00 | (opts.immediate === false ? 0 : 0x40);
    bhs[1] = 0x80;
    const itt = opts.itt ?? this.itt++;
    bhs.writeUInt32BE(itt, 16);
    bhs.writeUInt32BE(opts.ttt ?? 0xffffffff, 20);
    bhs.writeUInt32BE(this.cmdSN, 24);
    if (opts.immediate === false) this.cmdSN = (this.cmdSN + 1) >>> 0;
    bhs.writeUInt32BE(this.expStatSN, 28);
    this.send({ bhs, ahs: Buffer.alloc(0), data: opts.data ?? Buffer.alloc(0) });
    return itt;
  }

  tmf(fn: number, opts: { lun?: number; rtt?: number; refCmdSN?: number } = {}): number {
    const bhs = Buffer.alloc(48);
    bhs[0] = 0x02 | 0x40;
    bhs[1] = 0x80 | fn;
    encodeLun(bhs, 8, opts.lun ?? 0);
    const itt = this.itt++;
    bhs.writeUInt32BE(itt, 16);
    bhs.writeUInt32BE(opts.rtt ?? 0xffffffff, 20);
    bhs.writeUInt32BE(this.cmdSN, 24);
    bhs.writeUInt32BE(this.expStatSN, 28);
    bhs.writeUInt32BE(opts.refCmdSN ?? 0, 32);
    this.send({ bhs, ahs: Buffer.alloc(0), data: Buffer.alloc(0) });
    return itt;
  }

  text(pairs: [string, string][]): number {
    const bhs = Buffer.alloc(48);
    bhs[0] = 0x04 | 0x40;
    bhs[1] = 0x80;
    const itt = this.itt++;
    bhs.writeUInt32BE(itt, 16);
    bhs.writeUInt32BE(0xffffffff, 20);
    bhs.writeUInt32BE(this.cmdSN, 24);
    bhs.writeUInt32BE(this.expStatSN, 28);
    this.send({ bhs, ahs: Buffer.alloc(0), data: serializeText(pairs) });
    return itt;
  }

  logout(): number {
    const bhs = Buffer.alloc(48);
    bhs[0] = 0x06 | 0x40;
    bhs[1] = 0x80;
    const itt = this.itt++;
    bhs.writeUInt32BE(itt, 16);
    bhs.writeUInt32BE(this.cmdSN, 24);
    bhs.writeUInt32BE(this.expStatSN, 28);
    this.send({ bhs, ahs: Buffer.alloc(0), data: Buffer.alloc(0) });
    return itt;
  }

  /** Wait for a PDU of `opcode` (skipping others, e.g. NOP-In pings). */
  async expect(opcode: number, timeoutMs = 5000): Promise<ParsedPdu> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pdu = await this.next(Math.max(1, deadline - Date.now()));
      if (!pdu) throw new Error(`no PDU 0x${opcode.toString(16)} (closed=${this.closed})`);
      if (((pdu.bhs[0] as number) & 0x3f) === opcode) return pdu;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export function read10(lba: number, blocks: number): Buffer {
  const cdb = Buffer.alloc(10);
  cdb[0] = 0x28;
  cdb.writeUInt32BE(lba, 2);
  cdb.writeUInt16BE(blocks, 7);
  return cdb;
}

export function write10(lba: number, blocks: number): Buffer {
  const cdb = Buffer.alloc(10);
  cdb[0] = 0x2a;
  cdb.writeUInt32BE(lba, 2);
  cdb.writeUInt16BE(blocks, 7);
  return cdb;
}

export const TEST_UNIT_READY = Buffer.alloc(6);
