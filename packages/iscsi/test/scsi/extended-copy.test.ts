import { describe, expect, it } from "vitest";
import { be, cdb10, Harness, nexus, senseOf } from "./harness.js";
import { MemoryBackend } from "./memory-backend.js";

const GOOD = 0;

async function naaOf(h: Harness, lun: number): Promise<Uint8Array> {
  const d = (await h.run([0x12, 1, 0x83, 0xff, 0xff, 0], { lun })).dataIn!;
  return d.subarray(8, 24);
}

function cscd(naa: Uint8Array, blockSize: number, type = 0xe4): number[] {
  const d = new Uint8Array(32);
  d[0] = type;
  d[4] = 0x01;
  d[5] = 0x03;
  d[7] = 16;
  d.set(naa, 8);
  d[29] = (blockSize >> 16) & 0xff;
  d[30] = (blockSize >> 8) & 0xff;
  d[31] = blockSize & 0xff;
  return [...d];
}

function segment(
  src: number,
  dst: number,
  blocks: number,
  srcLba: number,
  dstLba: number,
  type = 0x02,
): number[] {
  return [
    type,
    0,
    0,
    0x18,
    ...be(src, 2),
    ...be(dst, 2),
    0,
    0,
    ...be(blocks, 2),
    ...be(srcLba, 8),
    ...be(dstLba, 8),
  ];
}

function list(listId: number, usage: number, cscds: number[][], segments: number[][]): Uint8Array {
  const c = cscds.flat();
  const s = segments.flat();
  return Uint8Array.from([
    listId,
    usage << 3,
    ...be(c.length, 2),
    0,
    0,
    0,
    0,
    ...be(s.length, 4),
    0,
    0,
    0,
    0,
    ...c,
    ...s,
  ]);
}

const xcopy = (l: Uint8Array) => [0x83, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...be(l.length, 4), 0, 0];
const rcr = (sa: number, listId: number) => [0x84, sa, listId, 0, 0, 0, 0, 0, 0, 0, ...be(1024, 4), 0, 0];

describe("EXTENDED COPY", () => {
  it("copies blocks within a LUN and between LUNs found by their NAA designators", async () => {
    const h = new Harness({ blocks: 64 });
    const other = new MemoryBackend(512, 64, { id: "second-lu" });
    h.target.addLun(1, other);
    await h.clearUa();
    await h.run([0, 0, 0, 0, 0, 0], { lun: 1 });
    const data = new Uint8Array(4 * 512).map((_, i) => i & 0xff);
    await h.run(cdb10(0x2a, 0, 4), { dataOut: data });
    const self = await naaOf(h, 0);
    const dest = await naaOf(h, 1);
    const l = list(
      1,
      0,
      [cscd(self, 512), cscd(dest, 512)],
      [segment(0, 0, 4, 0, 60), segment(0, 1, 4, 0, 10)],
    );
    expect((await h.run(xcopy(l), { dataOut: l })).status).toBe(GOOD);
    expect(h.backend.data.subarray(60 * 512, 64 * 512)).toEqual(data);
    expect(other.data.subarray(10 * 512, 14 * 512)).toEqual(data);
    expect(h.backend.open.size + other.open.size).toBe(0);
    const status = (await h.run(rcr(0, 1))).dataIn!;
    expect(status[4]).toBe(0x01);
    expect((status[5]! << 8) | status[6]!).toBe(2);
    expect(new DataView(status.buffer, status.byteOffset).getUint32(8)).toBe(2 * 4 * 512);
  });

  it("an overlapping copy within a LUN moves the data intact", async () => {
    const h = new Harness({ blocks: 8192 });
    await h.clearUa();
    const data = new Uint8Array(4096 * 512).map((_, i) => (i * 13) & 0xff);
    await h.run(cdb10(0x2a, 0, 4096), { dataOut: data, edtl: data.length });
    const self = await naaOf(h, 0);
    const l = list(2, 2, [cscd(self, 512)], [segment(0, 0, 4096, 0, 1000)]);
    expect((await h.run(xcopy(l), { dataOut: l })).status).toBe(GOOD);
    expect(Buffer.from(h.backend.data.subarray(1000 * 512, 5096 * 512)).equals(Buffer.from(data))).toBe(true);
    // LIST ID USAGE 10b: nothing held.
    expect(senseOf(await h.run(rcr(0, 2)))).toMatchObject({ key: 5, asc: 0x2400 });
  });

  it("refuses bad lists with the sense SPC-4 names", async () => {
    const h = new Harness({ blocks: 64 });
    await h.clearUa();
    const self = await naaOf(h, 0);
    const good = list(1, 0, [cscd(self, 512)], [segment(0, 0, 4, 0, 8)]);
    const run = (l: Uint8Array, len = l.length) =>
      h.run(xcopy(l.subarray(0, len)), { dataOut: l.subarray(0, len) });
    expect(senseOf(await run(good, good.length - 1))).toMatchObject({ key: 5, asc: 0x1a00 });
    expect((await run(good, 0)).status).toBe(GOOD);
    const huge = await h.run([0x83, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...be(1 << 20, 4), 0, 0], { edtl: 1 << 20 });
    expect(huge.dataOutLength).toBe(0);
    expect(senseOf(huge)).toMatchObject({ key: 5, asc: 0x1a00 });
    expect(senseOf(await run(list(1, 0, [cscd(self, 512, 0xe0)], [segment(0, 0, 1, 0, 8)])))).toMatchObject({
      asc: 0x2607,
    });
    expect(senseOf(await run(list(1, 0, [cscd(self, 512)], [segment(0, 0, 1, 0, 8, 0x01)])))).toMatchObject({
      asc: 0x2609,
    });
    const nine = new Array(9).fill(cscd(self, 512));
    expect(senseOf(await run(list(1, 0, nine, [segment(0, 0, 1, 0, 8)])))).toMatchObject({ asc: 0x2606 });
    expect(senseOf(await run(list(1, 0, [cscd(self, 512)], [segment(0, 1, 1, 0, 8)])))).toMatchObject({
      key: 0x0a,
      asc: 0x0d02,
    });
    expect(senseOf(await run(list(1, 0, [cscd(self, 512)], [segment(0, 0, 4, 0, 62)])))).toMatchObject({
      key: 0x0a,
    });
    const stranger = cscd(new Uint8Array(16).fill(0x61), 512);
    expect(senseOf(await run(list(1, 0, [stranger], [segment(0, 0, 1, 0, 8)])))).toMatchObject({
      key: 0x0a,
      asc: 0x0d02,
    });
  });

  it("RECEIVE COPY RESULTS reports the operating parameters", async () => {
    const h = new Harness();
    await h.clearUa();
    const p = (await h.run(rcr(3, 0))).dataIn!;
    const v = new DataView(p.buffer, p.byteOffset);
    expect(v.getUint32(0)).toBe(p.length - 4);
    expect(v.getUint16(8)).toBe(8);
    expect(v.getUint16(10)).toBe(8);
    expect([...p.subarray(44)]).toEqual([0x02, 0xe4]);
    expect(senseOf(await h.run(rcr(0, 9)))).toMatchObject({ asc: 0x2400 });
  });
});

describe("READ DEFECT DATA and physical block size", () => {
  it("returns an empty defect list, and READ CAPACITY(16) reports the backend's physical block size", async () => {
    const h = new Harness();
    h.backend.physicalBlockSize = 4096;
    await h.clearUa();
    const d10 = (await h.run([0x37, 0, 0x18, 0, 0, 0, 0, 0, 32, 0])).dataIn!;
    expect([...d10]).toEqual([0, 0x18, 0, 0]);
    const d12 = (await h.run([0xb7, 0x0d, 0, 0, 0, 0, ...be(32, 4), 0, 0])).dataIn!;
    expect(d12.length).toBe(8);
    const rc = (await h.run([0x9e, 0x10, ...new Array(8).fill(0), ...be(32, 4), 0, 0])).dataIn!;
    expect(rc[13]! & 0x0f).toBe(3);
    const b0 = (await h.run([0x12, 1, 0xb0, 0, 255, 0])).dataIn!;
    expect((b0[6]! << 8) | b0[7]!).toBe(8);
    const h4k = new Harness({ blockSize: 4096, blocks: 16 });
    await h4k.clearUa();
    const rc4k = (await h4k.run([0x9e, 0x10, ...new Array(8).fill(0), ...be(32, 4), 0, 0])).dataIn!;
    expect(rc4k[13]! & 0x0f).toBe(0);
  });
});

describe("EXTENDED COPY and reservations", () => {
  it("a destination reserved by another initiator is a reservation conflict", async () => {
    const h = new Harness({ blocks: 64 });
    const other = new MemoryBackend(512, 64, { id: "second-lu" });
    h.target.addLun(1, other);
    h.target.nexusLoggedIn(nexus(2));
    await h.clearUa();
    await h.clearUa(nexus(2));
    const reserve = await h.run([0x16, 0, 0, 0, 0, 0], { lun: 1, nexus: nexus(2) });
    expect([reserve.status, reserve.sense && senseOf(reserve).asc]).toEqual([0x02, 0x2900]);
    expect((await h.run([0x16, 0, 0, 0, 0, 0], { lun: 1, nexus: nexus(2) })).status).toBe(GOOD);
    const dest = (await h.run([0x12, 1, 0x83, 0xff, 0xff, 0], { lun: 1, nexus: nexus(2) })).dataIn!.subarray(
      8,
      24,
    );
    const copy = list(1, 0, [cscd(await naaOf(h, 0), 512), cscd(dest, 512)], [segment(0, 1, 1, 0, 0)]);
    expect((await h.run(xcopy(copy), { dataOut: copy })).status).toBe(0x18);
    expect(other.open.size).toBe(0);
  });
});
