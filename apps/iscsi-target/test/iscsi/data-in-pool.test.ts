// Data-In buffers come from the pool and go back to it only when nothing holds them: the engine
// has finished reading into them and the socket has finished writing the last PDU that carries
// them. Every release here scribbles on the buffer at once, as the pool's next user would: a
// buffer given back while the socket still queues it (or before a digest was computed over it)
// reaches the initiator scribbled, and a buffer given back twice makes the pool throw.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPool } from "@livesnap/engine";
import {
  createScsiTargetPort,
  type ScsiCommandRequest,
  SenseError,
  SenseKey,
  TargetOpcode,
  TmfFunction,
  TmfResponse,
} from "@livesnap/iscsi";
import { afterEach, describe, expect, it, vi } from "vitest";
import { dataOutPool } from "../../src/iscsi/data-out-pool.js";
import { ScsiTask } from "../../src/iscsi/task.js";
import { addSnapshotLun, addVolumeLun } from "../../src/lun/index.js";
import { RawInitiator, read10, TEST_UNIT_READY } from "../helpers/raw-initiator.js";
import { startTestTarget, TEST_IQN, type TestTarget } from "../helpers/target.js";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  vi.restoreAllMocks();
});

/** Every take and release of the process's pool; each release scribbles on the buffer first. */
function watchPool() {
  const take = dataOutPool.take.bind(dataOutPool);
  const release = dataOutPool.release.bind(dataOutPool);
  const taken: Buffer[] = [];
  const released: Buffer[] = [];
  vi.spyOn(dataOutPool, "take").mockImplementation((n) => {
    const buf = take(n);
    taken.push(buf);
    return buf;
  });
  vi.spyOn(dataOutPool, "release").mockImplementation((buf) => {
    buf.fill(0xee);
    released.push(buf);
    release(buf);
  });
  /** How many times `buf` went back. */
  const releasesOf = (buf: Buffer | undefined) => released.filter((b) => b === buf).length;
  return { taken, released, releasesOf };
}

async function login(t: TestTarget, keys: Record<string, string>, luns: number[]): Promise<RawInitiator> {
  const ini = await RawInitiator.connect(t.port);
  cleanup.push(() => ini.close());
  const rsp = await ini.login({ targetName: TEST_IQN, keys });
  expect(rsp.bhs[36]).toBe(0);
  for (const lun of luns) {
    // The power-on unit attention of each LUN.
    ini.command({ cdb: TEST_UNIT_READY, edtl: 0, lun });
    await ini.expect(TargetOpcode.scsiResponse);
  }
  return ini;
}

/** Data and status of many reads in flight at once (PDUs of different tasks interleave). */
async function collectReads(ini: RawInitiator, reads: Map<number, number>): Promise<Map<number, Buffer>> {
  const data = new Map([...reads].map(([itt, length]) => [itt, Buffer.alloc(length, 0x55)]));
  const status = new Map<number, number>();
  while (status.size < reads.size) {
    const pdu = await ini.next();
    if (!pdu) throw new Error(`connection closed with ${reads.size - status.size} reads outstanding`);
    const op = (pdu.bhs[0] as number) & 0x3f;
    const itt = pdu.bhs.readUInt32BE(16);
    if (op === TargetOpcode.scsiDataIn) {
      pdu.data.copy(data.get(itt) as Buffer, pdu.bhs.readUInt32BE(40));
      if ((pdu.bhs[1] as number) & 0x01) status.set(itt, pdu.bhs[3] as number);
    } else if (op === TargetOpcode.scsiResponse) {
      status.set(itt, pdu.bhs[3] as number);
    }
  }
  for (const [itt, s] of status) expect(s, `status of ITT ${itt}`).toBe(0);
  return data;
}

describe("Data-In buffers from the pool, through a real engine and the session", () => {
  for (const digests of [false, true]) {
    it(`reads of a volume and of its snapshot stay intact while released buffers are scribbled on (digests ${digests ? "on" : "off"})`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "livesnap-datain-"));
      const pool = await openPool({ dir, chunkSize: 4096 });
      cleanup.push(async () => {
        await pool.close();
        rmSync(dir, { recursive: true, force: true });
      });
      const size = 4 << 20;
      const vol = await pool.createVolume("v", { sizeBytes: size, blockSize: 512 });
      // Every 64 KiB piece its own bytes: before the snapshot, then overwritten in the volume.
      const piece = 65536;
      const before = (i: number) => Buffer.alloc(piece, (i * 5 + 1) & 0xff);
      const after = (i: number) => Buffer.from(Array.from({ length: piece }, (_, j) => (i + j * 3) & 0xff));
      const pieces = size / piece;
      for (let i = 0; i < pieces; i++) await vol.write(vol.admit(i * piece, piece), before(i));
      const snap = await vol.createSnapshot("s1");
      for (let i = 0; i < pieces; i += 2) await vol.write(vol.admit(i * piece, piece), after(i));
      const port = createScsiTargetPort();
      addVolumeLun(port, 0, vol, dir);
      addSnapshotLun(port, 1, "v", vol.getSnapshot(snap.name), dir);
      const t = await startTestTarget({ target: { port } });
      cleanup.push(() => t.close());
      const keys: Record<string, string> = digests ? { HeaderDigest: "CRC32C", DataDigest: "CRC32C" } : {};
      const ini = await login(t, keys, [0, 1]);
      const watch = watchPool();

      // Three rounds of every piece from both LUNs, 32 in flight: each round reuses the buffers
      // the previous one gave back (8 KiB Data-In PDUs, so a read is 8 PDUs and one callback).
      for (let round = 0; round < 3; round++) {
        for (let first = 0; first < pieces; first += 16) {
          const reads = new Map<number, number>();
          const expected = new Map<number, Buffer>();
          for (let i = first; i < first + 16; i++) {
            for (const lun of [0, 1]) {
              const itt = ini.command({
                cdb: read10((i * piece) / 512, piece / 512),
                read: true,
                edtl: piece,
                lun,
              });
              reads.set(itt, piece);
              expected.set(itt, lun === 1 || i % 2 === 1 ? before(i) : after(i));
            }
          }
          const got = await collectReads(ini, reads);
          for (const [itt, want] of expected) expect(got.get(itt)?.equals(want), `ITT ${itt}`).toBe(true);
        }
      }
      // Every buffer a read took went back exactly once (a buffer still in the socket would be late).
      await vi.waitFor(() => expect(watch.released.length).toBe(watch.taken.length));
      expect(watch.taken.length).toBe(3 * pieces * 2);
      expect(new Set(watch.taken).size).toBeLessThanOrEqual(64); // recycled, not fresh each time
      for (const buf of new Set(watch.taken)) {
        expect(watch.releasesOf(buf)).toBe(watch.taken.filter((b) => b === buf).length);
      }
    });
  }
});

/** A RAM target whose LUN 0 reads wait for `open()`; `entered` resolves when one is waiting. */
async function gatedTarget() {
  const t = await startTestTarget({ sizeBytes: 1 << 20 });
  cleanup.push(() => t.close());
  const backend = t.backends[0];
  if (!backend) throw new Error("no backend");
  backend.data.fill(0x3c);
  const plainRead = backend.read.bind(backend);
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let entered: () => void = () => {};
  const waiting = new Promise<void>((resolve) => {
    entered = resolve;
  });
  let fail = false;
  backend.read = async (offset, length, into) => {
    entered();
    await gate;
    if (fail) {
      into?.fill(0x99, 0, length / 2); // half read, then the medium fails
      throw new SenseError({ key: SenseKey.mediumError, asc: 0x1100 });
    }
    return plainRead(offset, length, into);
  };
  return { t, open, waiting, failReads: () => (fail = true) };
}

describe("a read that never sends its data gives its buffer back exactly once", () => {
  const cases = ["ABORT TASK", "failed read", "connection dropped", "logout"] as const;
  for (const how of cases) {
    it(how, async () => {
      const g = await gatedTarget();
      const ini = await login(g.t, {}, [0]);
      const watch = watchPool();
      const itt = ini.command({ cdb: read10(0, 256), read: true, edtl: 131072 });
      await g.waiting;
      expect(watch.taken).toHaveLength(1);
      const buf = watch.taken[0];
      if (how === "ABORT TASK") {
        ini.tmf(TmfFunction.abortTask, { rtt: itt, refCmdSN: ini.cmdSN - 1 });
        const rsp = await ini.expect(TargetOpcode.taskManagementResponse);
        expect(rsp.bhs[2]).toBe(TmfResponse.functionComplete);
      } else if (how === "failed read") {
        g.failReads();
      } else if (how === "connection dropped") {
        ini.close();
      } else {
        ini.logout();
        await ini.expect(TargetOpcode.logoutResponse);
      }
      // Still reading into it: not back yet, whatever happened to the task.
      await new Promise((r) => setTimeout(r, 20));
      expect(watch.releasesOf(buf)).toBe(0);
      g.open();
      await vi.waitFor(() => expect(watch.releasesOf(buf)).toBe(1));
      if (how === "failed read") {
        const rsp = await ini.expect(TargetOpcode.scsiResponse);
        expect(rsp.bhs.readUInt32BE(16)).toBe(itt);
        expect(rsp.bhs[3]).toBe(2); // CHECK CONDITION, and no Data-In before it
      }
      if (how === "ABORT TASK") {
        // The aborted read answers nothing; the session goes on with the same buffer.
        const next = ini.command({ cdb: read10(0, 256), read: true, edtl: 131072 });
        const got = await collectReads(ini, new Map([[next, 131072]]));
        expect(got.get(next)?.equals(Buffer.alloc(131072, 0x3c))).toBe(true);
        expect(watch.taken[1]).toBe(buf);
        await vi.waitFor(() => expect(watch.releasesOf(buf)).toBe(2));
      }
      await new Promise((r) => setTimeout(r, 20));
      expect(watch.released.length).toBe(watch.taken.length);
    });
  }
});

describe("Data-In still queued in the socket when the connection drops", () => {
  it("goes back once the socket discards it, not before", async () => {
    const t = await startTestTarget({ sizeBytes: 32 << 20 });
    cleanup.push(() => t.close());
    const ini = await login(t, {}, [0]);
    const watch = watchPool();
    // The initiator stops reading: 32 MiB of Data-In cannot all fit in the kernel's buffers.
    ini.socket.pause();
    for (let i = 0; i < 32; i++) ini.command({ cdb: read10(i * 2048, 2048), read: true, edtl: 1 << 20 });
    await vi.waitFor(() => expect(watch.taken).toHaveLength(32));
    await new Promise((r) => setTimeout(r, 100));
    const heldBySocket = watch.taken.length - watch.released.length;
    expect(heldBySocket).toBeGreaterThan(0);
    ini.close();
    await vi.waitFor(() => expect(watch.released.length).toBe(watch.taken.length));
    // A buffer the socket was done with may have served a later read: once back per take.
    for (const buf of new Set(watch.taken)) {
      expect(watch.releasesOf(buf)).toBe(watch.taken.filter((b) => b === buf).length);
    }
  });
});

describe("the pool refuses a buffer it holds already", () => {
  it("a task gives its Data-In buffer back once, however often it is told to", () => {
    const watch = watchPool();
    const request = {
      itt: 1,
      lun: 0,
      read: true,
      write: false,
      final: true,
    } as unknown as ScsiCommandRequest;
    const task = new ScsiTask(request, { kind: "immediate", response: { status: 0 } }, 0, 0);
    const buf = task.dataInBuffer(131072);
    expect(task.holdsDataIn).toBe(true);
    task.releaseDataIn();
    task.releaseDataIn();
    expect(task.holdsDataIn).toBe(false);
    expect(watch.releasesOf(watch.taken[0])).toBe(1);
    expect(watch.taken[0]).toBe(buf);
  });

  it("throws on a second release of the same buffer", () => {
    const buf = dataOutPool.take(8192);
    dataOutPool.release(buf);
    expect(() => dataOutPool.release(buf)).toThrow(/released twice/);
    expect(dataOutPool.take(8192)).toBe(buf);
    dataOutPool.release(buf);
  });
});

describe("small Data-In copied into the connection's one write buffer", () => {
  // Last in the file: it leaves many 4 KiB buffers on the process's pool free lists.
  it("4 KiB reads stay intact across a paused initiator (partial writes) and after it resumes", async () => {
    const t = await startTestTarget({ sizeBytes: 16 << 20 });
    cleanup.push(() => t.close());
    const backend = t.backends[0];
    if (!backend) throw new Error("no backend");
    const blocks = (16 << 20) / 4096;
    // Every 4 KiB block its own bytes, so a buffer reused too early shows up as another block.
    for (let b = 0; b < blocks; b++)
      backend.data.fill((b * 7 + 3) & 0xff, b * 4096, b * 4096 + 4096).writeUInt32BE(b, b * 4096);
    const ini = await login(t, {}, [0]);
    const watch = watchPool();
    // Three reads a batch (12 KiB: one copied write each); the initiator reads nothing, so at some
    // batch the kernel takes only part of a write and the rest waits in the socket.
    ini.socket.pause();
    const reads = new Map<number, number>();
    const expected = new Map<number, number>();
    for (let batch = 0; batch < 900; batch++) {
      for (let k = 0; k < 3; k++) {
        const block = (batch * 3 + k) % blocks;
        const itt = ini.command({ cdb: read10(block * 8, 8), read: true, edtl: 4096 });
        reads.set(itt, 4096);
        expected.set(itt, block);
      }
      await new Promise((r) => setTimeout(r, batch % 50 === 0 ? 2 : 0));
    }
    ini.socket.resume();
    const got = await collectReads(ini, reads);
    for (const [itt, block] of expected) {
      const want = Buffer.alloc(4096, (block * 7 + 3) & 0xff);
      want.writeUInt32BE(block, 0);
      expect(got.get(itt)?.equals(want), `ITT ${itt} (block ${block})`).toBe(true);
    }
    await vi.waitFor(() => expect(watch.released.length).toBe(watch.taken.length));
  });
});
