// The Data-Out pool, and the promise it relies on: once execute() answers GOOD without Data-In,
// nothing holds the command's Data-Out buffer any more, so the session may give it to the next
// command. Checked against a real engine pool, with and without a live snapshot (a first write
// after a snapshot is acknowledged before its origin overwrite runs in the background).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPool } from "@livesnap/engine";
import { createScsiTargetPort, type ScsiTarget } from "@livesnap/iscsi";
import { describe, expect, it } from "vitest";
import { DataOutPool } from "../../src/iscsi/data-out-pool.js";
import { addVolumeLun } from "../../src/lun/index.js";
import { testNexus as nexus, runCdb, teardownAfterEach } from "../scsi-port.js";

describe("DataOutPool", () => {
  it("hands out power-of-two buffers and reuses released ones of the same class", () => {
    const pool = new DataOutPool(1 << 20);
    const a = pool.take(100_000);
    expect(a.length).toBe(131072);
    pool.release(a);
    expect(pool.pooledBytes).toBe(131072);
    expect(pool.take(131072)).toBe(a);
    expect(pool.pooledBytes).toBe(0);
    expect(pool.take(1).length).toBe(4096);
    expect(pool.take(131072)).not.toBe(a);
  });

  it("keeps at most its byte budget and never pools odd sizes or huge transfers", () => {
    const pool = new DataOutPool(256 * 1024);
    const bufs = [pool.take(131072), pool.take(131072), pool.take(131072)];
    for (const b of bufs) pool.release(b);
    expect(pool.pooledBytes).toBe(256 * 1024);
    pool.release(Buffer.alloc(5000));
    expect(pool.pooledBytes).toBe(256 * 1024);
    const huge = pool.take(32 * 1024 * 1024 + 1);
    expect(huge.length).toBe(32 * 1024 * 1024 + 1);
    pool.release(huge);
    expect(pool.pooledBytes).toBe(256 * 1024);
  });
});

const cleanup = teardownAfterEach();

const exec = (target: ScsiTarget, cdb: number[], edtl: number, dataOut?: Uint8Array) =>
  runCdb(target, cdb, { edtl, dataOut });

const cdb10 = (op: number, lba: number, blocks: number) => [
  op,
  0,
  0,
  0,
  lba >> 8,
  lba & 0xff,
  0,
  blocks >> 8,
  blocks & 0xff,
  0,
];
const write10 = (lba: number, blocks: number) => cdb10(0x2a, lba, blocks);
const read10 = (lba: number, blocks: number) => cdb10(0x28, lba, blocks);
const writeSame10 = (lba: number, blocks: number) => cdb10(0x41, lba, blocks);
const syncCache = [0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0];

describe("a GOOD write leaves its Data-Out buffer free for reuse", () => {
  for (const snapshot of [false, true]) {
    it(`writes read back intact after their buffers are scribbled on (${snapshot ? "live snapshot: write-back tails" : "no snapshot"})`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "livesnap-pool-"));
      const p = await openPool({ dir, chunkSize: 4096 });
      cleanup.push(async () => {
        await p.close();
        rmSync(dir, { recursive: true, force: true });
      });
      const vol = await p.createVolume("v", { sizeBytes: 1 << 20, blockSize: 512 });
      const target = createScsiTargetPort();
      addVolumeLun(target, 0, vol, dir);
      target.nexusLoggedIn(nexus);
      await exec(target, [0, 0, 0, 0, 0, 0], 0); // the power-on unit attention
      // Old data everywhere, so that after the snapshot every write's first touch copies a chunk.
      expect((await exec(target, write10(0, 256), 131072, new Uint8Array(131072).fill(0x11))).status).toBe(0);
      if (snapshot) await vol.createSnapshot("s1");

      // 16 writes of 8 KiB in flight at once, each with its own pattern; as each one answers GOOD
      // its buffer is overwritten, as the pool's next user would.
      const writes = Array.from({ length: 16 }, async (_, i) => {
        const buf = new Uint8Array(8192).fill(0x20 + i);
        const r = await exec(target, write10(i * 16, 16), 8192, buf);
        expect(r.status).toBe(0);
        expect(r.dataIn).toBeUndefined();
        buf.fill(0xee);
      });
      const pattern = new Uint8Array(512).fill(0x7a);
      const same = exec(target, writeSame10(300, 40), 512, pattern).then((r) => {
        expect(r.status).toBe(0);
        pattern.fill(0xee);
      });
      await Promise.all([...writes, same]);
      expect((await exec(target, syncCache, 0)).status).toBe(0);

      const back = await exec(target, read10(0, 256), 131072);
      for (let i = 0; i < 16; i++) {
        const piece = back.dataIn?.subarray(i * 8192, (i + 1) * 8192);
        expect(piece?.every((b) => b === 0x20 + i)).toBe(true);
      }
      const sameBack = await exec(target, read10(300, 40), 40 * 512);
      expect(sameBack.dataIn?.every((b) => b === 0x7a)).toBe(true);
    });
  }
});
