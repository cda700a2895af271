// The engine adapter's translation logic, against a small fake of the engine's volume surface.
// (Tests against the real engine live in engine-lun.test.ts.)
import {
  type EngineErrorCode,
  type LbaStatusRange,
  MAX_ATOMIC_WRITE_BYTES,
  type VolumeInfo,
  type WriteTicket,
} from "@livesnap/engine";
import { createScsiTargetPort, SenseError } from "@livesnap/iscsi";
import { describe, expect, it } from "vitest";
import { engineErrorCode, senseForEngineCode, toSenseError } from "../../src/lun/engine-sense.js";
import { snapshotBackend, type VolumeIo, volumeBackend } from "../../src/lun/volume-backend.js";
import { testNexus as nexus, runCdb } from "../scsi-port.js";

const engineError = (code: EngineErrorCode) => Object.assign(new Error(`engine says ${code}`), { code });

class FakeVolume implements VolumeIo {
  readonly info: VolumeInfo = {
    name: "v",
    id: "3f1c0a8e-0000-4000-8000-000000000001",
    sizeBytes: 64 * 512,
    blockSize: 512,
    chunkSize: 4096,
    createdAt: "2026-01-01T00:00:00Z",
    snapshotCount: 0,
    allocatedBytes: 0,
  };
  seq = 0;
  fail: EngineErrorCode | undefined;
  readonly ended: number[] = [];
  readonly bytes = new Uint8Array(64 * 512);
  admit(offset: number, length: number): WriteTicket {
    if (offset + length > this.info.sizeBytes) throw engineError("out-of-range");
    return { seq: ++this.seq, offset, length };
  }
  cancel(t: WriteTicket): void {
    this.ended.push(t.seq);
  }
  async write(t: WriteTicket, data: Uint8Array): Promise<void> {
    this.ended.push(t.seq);
    if (this.fail) throw engineError(this.fail);
    this.bytes.set(data, t.offset);
  }
  readonly atomicWrites: { seq: number; fua: boolean | undefined }[] = [];
  async writeAtomic(t: WriteTicket, data: Uint8Array, opts?: { fua?: boolean }): Promise<void> {
    this.ended.push(t.seq);
    if (this.fail) throw engineError(this.fail);
    this.atomicWrites.push({ seq: t.seq, fua: opts?.fua });
    this.bytes.set(data, t.offset);
  }
  async writeZeroes(t: WriteTicket): Promise<void> {
    this.ended.push(t.seq);
  }
  async unmap(t: WriteTicket): Promise<void> {
    this.ended.push(t.seq);
  }
  async compareAndWrite(t: WriteTicket): Promise<{ ok: true }> {
    this.ended.push(t.seq);
    return { ok: true };
  }
  async read(offset: number, length: number): Promise<Buffer> {
    if (this.fail) throw engineError(this.fail);
    return Buffer.from(this.bytes.subarray(offset, offset + length));
  }
  async flush(): Promise<void> {}
  lbaStatus(offset: number, length: number): LbaStatusRange[] {
    return [{ offset, length, mapped: true }];
  }
}

const run = (target: ReturnType<typeof createScsiTargetPort>, cdb: number[], dataOut?: Uint8Array) =>
  runCdb(target, cdb, { edtl: dataOut?.length ?? 4096, dataOut });

const senseKeyAsc = (s: Uint8Array | undefined) => [s![2]! & 0x0f, (s![12]! << 8) | s![13]!];

/** WRITE ATOMIC(16) of `blocks` at `lba`; `flags` is byte 1 (0x08: FUA). */
function writeAtomic16(lba: number, blocks: number, flags = 0): number[] {
  const cdb = new Uint8Array(16);
  const fields = new DataView(cdb.buffer);
  cdb[0] = 0x9c;
  cdb[1] = flags;
  fields.setBigUint64(2, BigInt(lba));
  fields.setUint16(12, blocks);
  return [...cdb];
}

describe("EngineError → sense", () => {
  it("maps every engine code", () => {
    expect(senseForEngineCode("out-of-range", "write")).toMatchObject({ key: 0x5, asc: 0x2100 });
    expect(senseForEngineCode("no-space", "write")).toMatchObject({ key: 0x7, asc: 0x2707 });
    expect(senseForEngineCode("io-error", "read")).toMatchObject({ key: 0x3, asc: 0x1100 });
    expect(senseForEngineCode("io-error", "write")).toMatchObject({ key: 0x3, asc: 0x0c00 });
    expect(senseForEngineCode("snapshot-invalid", "read")).toMatchObject({ key: 0x2, asc: 0x0403 });
    expect(senseForEngineCode("busy", "write")).toMatchObject({ key: 0x2, asc: 0x0407 });
    expect(senseForEngineCode("closed", "read")).toMatchObject({ key: 0x2, asc: 0x0400 });
    expect(senseForEngineCode("not-found", "read")).toMatchObject({ key: 0x5, asc: 0x2500 });
  });

  it("recognises engine errors by shape only", () => {
    expect(engineErrorCode(engineError("busy"))).toBe("busy");
    expect(engineErrorCode(Object.assign(new Error("x"), { code: "ENOENT" }))).toBeUndefined();
    expect(engineErrorCode("busy")).toBeUndefined();
    const plain = new Error("boom");
    expect(toSenseError(plain, "read")).toBe(plain);
    expect(toSenseError(engineError("io-error"), "read")).toBeInstanceOf(SenseError);
  });
});

describe("volume backend", () => {
  it("serves reads and writes through the engine's tickets", async () => {
    const vol = new FakeVolume();
    const target = createScsiTargetPort();
    target.addLun(0, volumeBackend(vol));
    const data = new Uint8Array(512).fill(0xab);
    const w = await run(target, [0x2a, 0, 0, 0, 0, 3, 0, 0, 1, 0], data);
    expect(w.status).toBe(0);
    expect(vol.ended).toEqual([1]);
    const r = await run(target, [0x28, 0, 0, 0, 0, 3, 0, 0, 1, 0]);
    expect(Buffer.from(r.dataIn!).equals(Buffer.from(data))).toBe(true);
  });

  it("turns engine failures into the right CHECK CONDITION", async () => {
    const vol = new FakeVolume();
    const target = createScsiTargetPort();
    target.addLun(0, volumeBackend(vol));
    vol.fail = "no-space";
    const w = await run(target, [0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0], new Uint8Array(512));
    expect(w.status).toBe(2);
    expect(senseKeyAsc(w.sense)).toEqual([0x7, 0x2707]);
    vol.fail = "io-error";
    const r = await run(target, [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(senseKeyAsc(r.sense)).toEqual([0x3, 0x1100]);
  });

  it("WRITE ATOMIC goes to the engine's writeAtomic with its ticket, up to the engine's maximum", async () => {
    const vol = new FakeVolume();
    const target = createScsiTargetPort();
    target.addLun(0, volumeBackend(vol));
    const b0 = (await run(target, [0x12, 1, 0xb0, 0, 255, 0])).dataIn!;
    const limits = new DataView(b0.buffer, b0.byteOffset, b0.length);
    // 1 MiB of 512-byte blocks, in whole 4 KiB physical blocks.
    expect([limits.getUint32(44), limits.getUint32(48), limits.getUint32(52)]).toEqual([
      MAX_ATOMIC_WRITE_BYTES / 512,
      8,
      8,
    ]);
    const data = new Uint8Array(4096).fill(0x5c);
    const w = await run(target, writeAtomic16(8, 8, 0x08), data);
    expect(w.status).toBe(0);
    expect(vol.atomicWrites).toEqual([{ seq: 1, fua: true }]);
    expect(vol.ended).toEqual([1]);
    expect(vol.bytes[8 * 512]).toBe(0x5c);
    vol.fail = "invalid-argument";
    const refused = await run(target, writeAtomic16(0, 8), data);
    expect(senseKeyAsc(refused.sense)).toEqual([0x5, 0x2400]);
    expect(vol.ended).toEqual([1, 2]);
  });

  it("an abandoned write cancels its engine ticket exactly once", () => {
    const vol = new FakeVolume();
    const target = createScsiTargetPort();
    target.addLun(0, volumeBackend(vol));
    const adm = target.admit({
      lun: 0,
      cdb: Uint8Array.from([0x2a, 0, 0, 0, 0, 0, 0, 0, 2, 0]),
      nexus,
      expectedDataTransferLength: 1024,
      readBit: false,
      writeBit: true,
      taskTag: 1,
      attribute: "simple",
    });
    if (adm.kind !== "ready") throw new Error("not admitted");
    target.abandon(adm);
    target.abandon(adm);
    expect(vol.ended).toEqual([1]);
  });

  it("a snapshot LUN is read-only with its own identity", async () => {
    const snap = snapshotBackend("v", {
      info: {
        name: "s1",
        id: "9d0e5a1b-0000-4000-8000-000000000002",
        volume: "v",
        createdAt: "2026-01-01T00:00:00Z",
        seq: 1,
        preservedChunks: 0,
        preservedBytes: 0,
        valid: true,
      },
      sizeBytes: 32 * 512,
      blockSize: 512,
      read: async (_o, l) => Buffer.alloc(l, 7),
      lbaStatus: (offset, length) => [{ offset, length, mapped: false }],
    });
    expect(snap.identity).toEqual({ id: "9d0e5a1b-0000-4000-8000-000000000002", name: "v@s1" });
    const target = createScsiTargetPort();
    target.addLun(0, snap);
    const w = await run(target, [0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0], new Uint8Array(512));
    expect(senseKeyAsc(w.sense)).toEqual([0x7, 0x2700]);
    const r = await run(target, [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(r.dataIn?.[0]).toBe(7);
    // No atomic writes on a snapshot: WRITE ATOMIC is an unknown opcode there.
    expect(snap.writeAtomic).toBeUndefined();
    const atomic = await run(target, writeAtomic16(0, 8), new Uint8Array(4096));
    expect(senseKeyAsc(atomic.sense)).toEqual([0x5, 0x2000]);
  });
});
