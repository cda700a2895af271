// Volumes and snapshots of a real engine pool (files in a temp dir) served as SCSI LUNs, driven
// the way the transport drives them: admit at command arrival, execute when the data is in.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EnginePool, openPool } from "@livesnap/engine";
import { createScsiTargetPort, type ScsiTarget } from "@livesnap/iscsi";
import { describe, expect, it } from "vitest";
import { addSnapshotLun, addVolumeLun } from "../../src/lun/index.js";
import { testNexus as nexus, runCdb, teardownAfterEach } from "../scsi-port.js";

const cleanup = teardownAfterEach();

async function pool(): Promise<{ pool: EnginePool; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "livesnap-lun-"));
  const p = await openPool({ dir, chunkSize: 4096 });
  cleanup.push(async () => {
    await p.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { pool: p, dir };
}

function admit(target: ScsiTarget, lun: number, cdb: number[], edtl: number, write: boolean) {
  const adm = target.admit({
    lun,
    cdb: Uint8Array.from(cdb),
    nexus,
    expectedDataTransferLength: edtl,
    readBit: !write,
    writeBit: write,
    taskTag: 1,
    attribute: "simple",
  });
  if (adm.kind !== "ready") throw new Error(`not admitted: status ${adm.response.status}`);
  return adm;
}

const run = (target: ScsiTarget, lun: number, cdb: number[], dataOut?: Uint8Array) =>
  runCdb(target, cdb, { lun, edtl: dataOut?.length ?? 1 << 20, dataOut });

const write10 = (lba: number, blocks: number) => [0x2a, 0, 0, 0, lba >> 8, lba & 0xff, 0, 0, blocks, 0];
const read10 = (lba: number, blocks: number) => [0x28, 0, 0, 0, lba >> 8, lba & 0xff, 0, 0, blocks, 0];

/** WRITE ATOMIC(16) of `blocks` at `lba`. */
function writeAtomic16(lba: number, blocks: number): number[] {
  const cdb = new Uint8Array(16);
  const fields = new DataView(cdb.buffer);
  cdb[0] = 0x9c;
  fields.setBigUint64(2, BigInt(lba));
  fields.setUint16(12, blocks);
  return [...cdb];
}

describe("engine volumes as LUNs", () => {
  it("a write admitted before a live snapshot belongs to it, one admitted after does not", async () => {
    const { pool: p, dir } = await pool();
    const vol = await p.createVolume("v", { sizeBytes: 1 << 20, blockSize: 512 });
    const target = createScsiTargetPort();
    addVolumeLun(target, 0, vol, dir);
    target.nexusLoggedIn(nexus);
    await run(target, 0, [0, 0, 0, 0, 0, 0]); // power-on unit attention
    expect((await run(target, 0, write10(0, 8), new Uint8Array(4096).fill(1))).status).toBe(0);

    // Command PDUs arrive, the snapshot is taken, then the Data-Out arrives.
    const before = admit(target, 0, write10(0, 8), 4096, true);
    await vol.createSnapshot("s1");
    const after = admit(target, 0, write10(8, 8), 4096, true);
    expect((await target.execute(before, new Uint8Array(4096).fill(2))).status).toBe(0);
    expect((await target.execute(after, new Uint8Array(4096).fill(3))).status).toBe(0);

    addSnapshotLun(target, 1, "v", vol.getSnapshot("s1"), dir);
    const snap = await run(target, 1, read10(0, 16));
    expect(snap.dataIn?.[0]).toBe(2);
    expect(snap.dataIn?.[4096]).toBe(0);
    // Adding LUN 1 changed the inventory: LUN 0 tells the nexus once.
    const ua = await run(target, 0, read10(0, 16));
    expect([ua.sense?.[2], ua.sense?.[12], ua.sense?.[13]]).toEqual([0x06, 0x3f, 0x0e]);
    const live = await run(target, 0, read10(0, 16));
    expect([live.dataIn?.[0], live.dataIn?.[4096]]).toEqual([2, 3]);
  });

  it("the snapshot LUN is write protected and identified apart from its volume", async () => {
    const { pool: p, dir } = await pool();
    const vol = await p.createVolume("v", { sizeBytes: 1 << 20, blockSize: 4096 });
    await vol.createSnapshot("s1");
    const target = createScsiTargetPort();
    addVolumeLun(target, 0, vol, dir);
    addSnapshotLun(target, 1, "v", vol.getSnapshot("s1"), dir);
    const w = await run(target, 1, write10(0, 1), new Uint8Array(4096));
    expect([w.sense?.[2], w.sense?.[12]]).toEqual([0x07, 0x27]);
    const naa = async (lun: number) =>
      (await run(target, lun, [0x12, 1, 0x83, 0, 255, 0])).dataIn?.subarray(8, 24);
    expect(await naa(0)).not.toEqual(await naa(1));
    const cap = await run(target, 1, [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect([...(cap.dataIn ?? [])]).toEqual([0, 0, 0, 255, 0, 0, 0x10, 0]);
  });

  it("UNMAP deallocates in the engine and GET LBA STATUS sees it", async () => {
    const { pool: p, dir } = await pool();
    const vol = await p.createVolume("v", { sizeBytes: 1 << 20, blockSize: 512 });
    const target = createScsiTargetPort();
    addVolumeLun(target, 0, vol, dir);
    await run(target, 0, write10(0, 64), new Uint8Array(64 * 512).fill(9));
    const list = new Uint8Array(24);
    const v = new DataView(list.buffer);
    v.setUint16(0, 22);
    v.setUint16(2, 16);
    v.setBigUint64(8, 16n);
    v.setUint32(16, 16);
    expect((await run(target, 0, [0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], list)).status).toBe(0);
    const st = await run(target, 0, [0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 64, 0, 0]);
    expect(st.dataIn?.[8 + 12]).toBe(1);
    const r = await run(target, 0, read10(16, 1));
    expect(r.dataIn?.every((b) => b === 0)).toBe(true);
  });

  it("reports the chunk as unmap granularity: less is zeroed and stays mapped, a whole chunk is deallocated", async () => {
    const { pool: p, dir } = await pool();
    const vol = await p.createVolume("v", { sizeBytes: 1 << 20, blockSize: 512, chunkSize: 65536 });
    const target = createScsiTargetPort();
    addVolumeLun(target, 0, vol, dir);
    const b0 = (await run(target, 0, [0x12, 1, 0xb0, 0, 255, 0])).dataIn!;
    const limits = new DataView(b0.buffer, b0.byteOffset);
    expect(limits.getUint16(6)).toBe(8); // optimal transfer granularity: one 4 KiB physical block
    expect(limits.getUint32(28)).toBe(128); // optimal unmap granularity: one 64 KiB chunk
    for (const lba of [0, 128]) await run(target, 0, write10(lba, 128), new Uint8Array(128 * 512).fill(9));
    const unmap = async (lba: number, blocks: number) => {
      const list = new Uint8Array(24);
      const v = new DataView(list.buffer);
      v.setUint16(0, 22);
      v.setUint16(2, 16);
      v.setBigUint64(8, BigInt(lba));
      v.setUint32(16, blocks);
      expect((await run(target, 0, [0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], list)).status).toBe(0);
    };
    const status = async (lba: number) => {
      const d = (await run(target, 0, [0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, lba, 0, 0, 0, 64, 0, 0])).dataIn!;
      const v = new DataView(d.buffer, d.byteOffset);
      return [Number(v.getBigUint64(8)), v.getUint32(16), d[20]! & 0x0f];
    };
    await unmap(8, 8); // one physical block inside chunk 0
    expect(await status(0)).toEqual([0, 256, 0]);
    expect((await run(target, 0, read10(8, 8))).dataIn?.every((b) => b === 0)).toBe(true);
    await unmap(128, 128); // chunk 1, whole
    expect(await status(0)).toEqual([0, 128, 0]);
    expect(await status(128)).toEqual([128, 2048 - 128, 1]); // chunk 1 and the never-written rest
  });

  it("WRITE ATOMIC goes through the engine's journalled write, up to 1 MiB; a snapshot LUN lacks it", async () => {
    const { pool: p, dir } = await pool();
    const vol = await p.createVolume("v", { sizeBytes: 2 << 20, blockSize: 512 });
    await vol.createSnapshot("s1");
    const target = createScsiTargetPort();
    addVolumeLun(target, 0, vol, dir);
    addSnapshotLun(target, 1, "v", vol.getSnapshot("s1"), dir);
    const data = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 7) & 0xff);
    expect((await run(target, 0, writeAtomic16(8, 2048), data)).status).toBe(0);
    const back = await run(target, 0, [0x88, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0x08, 0, 0, 0]);
    expect(Buffer.from(back.dataIn ?? []).equals(Buffer.from(data))).toBe(true);
    const over = await run(target, 0, writeAtomic16(0, 2056), new Uint8Array(2056 * 512));
    expect([over.sense?.[2], over.sense?.[12]]).toEqual([0x05, 0x24]);
    const onSnapshot = await run(target, 1, writeAtomic16(0, 8), new Uint8Array(4096));
    expect([onSnapshot.sense?.[2], onSnapshot.sense?.[12]]).toEqual([0x05, 0x20]);
  });
});
