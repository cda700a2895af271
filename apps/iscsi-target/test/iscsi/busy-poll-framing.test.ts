// Framing across the busy-poll path: an initiator in a worker thread (its own event loop, so it
// runs while the target's loop spins) sends each QD 1 command in two pieces split at a different
// offset each time, the second piece after a pause: the spin's non-blocking read takes a partial
// PDU, libuv's or the next spin's read the rest. Every WRITE is read back and compared, so a byte
// lost, duplicated or reordered between the two read paths fails the test.
import { Worker } from "node:worker_threads";
import { encodeLun, type ParsedPdu, PduParser, serializePdu, serializeText } from "@livesnap/iscsi";
import { afterEach, describe, expect, it } from "vitest";
import { busyPollStats } from "../../src/iscsi/receive-poll.js";
import { read10, TEST_UNIT_READY, write10 } from "../helpers/raw-initiator.js";
import { startTestTarget, TEST_IQN, type TestTarget } from "../helpers/target.js";

/** One exchange: the request's bytes in pieces, `pauseUs` apart; then wait for the final PDU. */
interface Step {
  pieces: Uint8Array[];
  pauseUs: number;
}

// Plain JS (an eval worker): send each step's pieces, then read PDUs until one ends the command
// (login response, SCSI response, Data-In with status); finally post every byte received.
const PUMP = `
const { workerData, parentPort } = require("node:worker_threads");
const net = require("node:net");
const { port, steps } = workerData;
const socket = net.connect(port, "127.0.0.1");
socket.setNoDelay(true);
let pending = Buffer.alloc(0);
const received = [];
let waiting;
socket.on("data", (d) => {
  received.push(d);
  pending = Buffer.concat([pending, d]);
  for (;;) {
    if (pending.length < 48) return;
    const total = 48 + pending[4] * 4 + ((pending.readUIntBE(5, 3) + 3) & ~3);
    if (pending.length < total) return;
    const op = pending[0] & 0x3f, flags = pending[1];
    pending = pending.subarray(total);
    const ends = op === 0x23 || op === 0x21 || (op === 0x25 && (flags & 1) === 1);
    if (ends && waiting) { const w = waiting; waiting = undefined; w(); }
  }
});
socket.on("error", (e) => parentPort.postMessage({ error: String(e) }));
function pause(us) { const t = process.hrtime.bigint(); while (process.hrtime.bigint() - t < BigInt(us * 1000)) {} }
socket.on("connect", async () => {
  for (const step of steps) {
    const done = new Promise((r) => { waiting = r; });
    step.pieces.forEach((p, i) => { if (i > 0) pause(step.pauseUs); socket.write(p); });
    await done;
  }
  socket.end();
  parentPort.postMessage({ bytes: Buffer.concat(received) });
});
`;

let target: TestTarget | undefined;
const savedEnv = process.env.LIVESNAP_BUSY_POLL_US;
afterEach(async () => {
  await target?.close();
  target = undefined;
  if (savedEnv === undefined) delete process.env.LIVESNAP_BUSY_POLL_US;
  else process.env.LIVESNAP_BUSY_POLL_US = savedEnv;
});

function bytesOf(bhs: Buffer, data: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat(
    serializePdu({ bhs, ahs: Buffer.alloc(0), data }, { headerDigest: false, dataDigest: false }),
  );
}

function loginPdu(): Buffer {
  const bhs = Buffer.alloc(48);
  bhs[0] = 0x43;
  bhs[1] = 0x80 | (1 << 2) | 3; // T, operational -> full feature
  Buffer.from([0x80, 0x12, 0x34, 0x56, 0x00, 0x01]).copy(bhs, 8);
  bhs.writeUInt32BE(1, 16);
  bhs.writeUInt32BE(1, 24);
  const keys: [string, string][] = [
    ["InitiatorName", "iqn.2026-11.test:pump"],
    ["SessionType", "Normal"],
    ["TargetName", TEST_IQN],
    ["ImmediateData", "Yes"],
    ["InitialR2T", "No"],
    ["FirstBurstLength", "65536"],
    ["MaxRecvDataSegmentLength", "262144"],
  ];
  return bytesOf(bhs, serializeText(keys));
}

function commandPdu(itt: number, cmdSN: number, cdb: Buffer, edtl: number, write?: Buffer): Buffer {
  const bhs = Buffer.alloc(48);
  bhs[0] = 0x01;
  bhs[1] = 0x80 | (write ? 0x20 : edtl > 0 ? 0x40 : 0) | 1;
  encodeLun(bhs, 8, 0);
  bhs.writeUInt32BE(itt, 16);
  bhs.writeUInt32BE(edtl, 20);
  bhs.writeUInt32BE(cmdSN, 24);
  cdb.copy(bhs, 32);
  return bytesOf(bhs, write);
}

describe("busy-poll framing", () => {
  it("frames commands split across the spin's reads and libuv's, in order and intact", async () => {
    process.env.LIVESNAP_BUSY_POLL_US = "1000";
    target = await startTestTarget({ sizeBytes: 1024 * 1024 });
    const steps: Step[] = [{ pieces: [loginPdu()], pauseUs: 0 }];
    steps.push({ pieces: [commandPdu(2, 1, TEST_UNIT_READY, 0)], pauseUs: 0 });
    const written = new Map<number, Buffer>();
    const COMMANDS = 300;
    for (let i = 0; i < COMMANDS; i++) {
      const lba = ((i * 53) % 250) * 8; // 4 KiB blocks, revisited
      const isWrite = i % 2 === 0;
      const data = isWrite ? Buffer.alloc(4096, (i % 251) + 1) : undefined;
      if (data) written.set(i, data);
      const pdu = isWrite
        ? commandPdu(10 + i, 2 + i, write10(lba, 8), 4096, data)
        : commandPdu(10 + i, 2 + i, read10((((i - 1) * 53) % 250) * 8, 8), 4096);
      // Split points inside the BHS, at its end, inside the data; pauses below and above a spin's
      // reach so both read paths take second pieces.
      const at = [1, 20, 47, 48, 49, 300, 4000, pdu.length - 1][i % 8] as number;
      steps.push({
        pieces: [pdu.subarray(0, Math.min(at, pdu.length - 1)), pdu.subarray(Math.min(at, pdu.length - 1))],
        pauseUs: [0, 30, 200, 3000][i % 4] as number,
      });
    }
    const before = busyPollStats();
    const worker = new Worker(PUMP, { eval: true, workerData: { port: target.port, steps } });
    const result = await new Promise<{ bytes?: Uint8Array; error?: string }>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    await worker.terminate();
    expect(result.error).toBeUndefined();
    const after = busyPollStats();

    const pdus: ParsedPdu[] = [];
    const parser = new PduParser({
      headerDigest: false,
      dataDigest: false,
      maxRecvDataSegmentLength: 16_777_215,
    });
    parser.feed(Buffer.from(result.bytes as Uint8Array), (p) =>
      pdus.push({ ...p, bhs: Buffer.from(p.bhs), data: Buffer.from(p.data) }),
    );
    expect(pdus[0]?.bhs[0]).toBe(0x23);
    expect(pdus[0]?.bhs[36]).toBe(0); // login accepted
    // After the login and the TEST UNIT READY: each command in order, each GOOD, reads = writes.
    let k = 2;
    for (let i = 0; i < COMMANDS; i++) {
      const itt = 10 + i;
      if (i % 2 === 0) {
        const rsp = pdus[k++];
        expect(rsp?.bhs[0] ?? 0).toBe(0x21);
        expect(rsp?.bhs.readUInt32BE(16)).toBe(itt);
        expect(rsp?.bhs[3]).toBe(0);
      } else {
        const din = pdus[k++];
        expect(din?.bhs[0] ?? 0).toBe(0x25);
        expect(din?.bhs.readUInt32BE(16)).toBe(itt);
        // What the WRITE just before it wrote (the same LBA).
        expect(din?.data.equals(written.get(i - 1) as Buffer)).toBe(true);
        if (((din?.bhs[1] ?? 0) & 1) === 0) {
          const rsp = pdus[k++];
          expect(rsp?.bhs[0] ?? 0).toBe(0x21);
          expect(rsp?.bhs[3]).toBe(0);
        } else {
          expect(din?.bhs[3]).toBe(0);
        }
      }
    }
    expect(k).toBe(pdus.length);
    // The spin took part: some of these requests were read by it.
    expect(after.hits - before.hits).toBeGreaterThan(10);
  });
});
