import { describe, expect, it } from "vitest";
import { be, cdb10, cdb16, Harness, nexus, senseOf } from "./harness.js";

const GOOD = 0;
const ILLEGAL = 5;

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

describe("COMPARE AND WRITE", () => {
  const caw = (lba: number, blocks: number) => [0x89, 0, ...be(lba, 8), 0, 0, 0, blocks, 0, 0];

  it("writes when the compare matches, MISCOMPARE with the offset otherwise", async () => {
    const h = new Harness();
    await h.clearUa();
    await h.run(cdb10(0x2a, 4, 2), { dataOut: fill(1024, 0x41) });
    const ok = await h.run(caw(4, 2), {
      dataOut: Uint8Array.from([...fill(1024, 0x41), ...fill(1024, 0x42)]),
    });
    expect(ok.status).toBe(GOOD);
    expect(h.backend.data[4 * 512]).toBe(0x42);
    const expected = fill(1024, 0x42);
    expected[700] = 0;
    const bad = await h.run(caw(4, 2), { dataOut: Uint8Array.from([...expected, ...fill(1024, 0x43)]) });
    expect(senseOf(bad)).toMatchObject({ key: 0x0e, asc: 0x1d00, info: 700 });
    expect(h.backend.data[4 * 512]).toBe(0x42);
    expect(h.backend.open.size).toBe(0);
  });

  it("refuses more blocks than the limit and a Data-Out that is not twice the blocks", async () => {
    const h = new Harness();
    await h.clearUa();
    const limit = (await h.run([0x12, 1, 0xb0, 0, 255, 0])).dataIn![5]!;
    expect(limit).toBeGreaterThan(0);
    // 256 blocks cannot be encoded: it arrives as 0 with a 256-block EDTL.
    const zero = await h.run(caw(0, 0), { dataOut: fill(2 * 256 * 512, 0) });
    expect(senseOf(zero)).toMatchObject({ key: ILLEGAL, asc: 0x2400 });
    expect((await h.run(caw(0, 0), { edtl: 0 })).status).toBe(GOOD);
    const short = await h.run(caw(0, 1), { dataOut: fill(512, 0) });
    expect(senseOf(short)).toMatchObject({ key: ILLEGAL, asc: 0x2400 });
    expect(senseOf(await h.run(caw(1023, 2), { dataOut: fill(2048, 0) }))).toMatchObject({ asc: 0x2100 });
  });
});

describe("ORWRITE", () => {
  it("ORs the data into what is stored", async () => {
    const h = new Harness();
    await h.clearUa();
    await h.run(cdb10(0x2a, 0, 1), { dataOut: fill(512, 0x0f) });
    expect((await h.run(cdb16(0x8b, 0, 1), { dataOut: fill(512, 0xf0) })).status).toBe(GOOD);
    expect(h.backend.data[0]).toBe(0xff);
    expect(h.backend.open.size).toBe(0);
  });
});

describe("VERIFY", () => {
  it("BYTCHK=0 checks the range; BYTCHK=1 compares; BYTCHK=3 compares one block against each", async () => {
    const h = new Harness();
    await h.clearUa();
    await h.run(cdb10(0x2a, 0, 2), { dataOut: fill(1024, 7) });
    expect((await h.run(cdb10(0x2f, 0, 2))).status).toBe(GOOD);
    expect((await h.run(cdb10(0x2f, 0, 2, 0x02), { dataOut: fill(1024, 7) })).status).toBe(GOOD);
    const wrong = fill(1024, 7);
    wrong[600] = 1;
    expect(senseOf(await h.run(cdb10(0x2f, 0, 2, 0x02), { dataOut: wrong }))).toMatchObject({
      key: 0x0e,
      asc: 0x1d00,
      info: 600,
    });
    const one = await h.run(cdb16(0x8f, 0, 2, 0x06), { dataOut: fill(512, 7) });
    expect(one.status).toBe(GOOD);
    expect(one.dataOutLength).toBe(512);
    expect(senseOf(await h.run(cdb10(0x2f, 0, 2, 0x04)))).toMatchObject({ asc: 0x2400 });
    expect(senseOf(await h.run(cdb10(0x2f, 1023, 2)))).toMatchObject({ asc: 0x2100 });
  });
});

describe("thin provisioning", () => {
  const unmapList = (ranges: [number, number][]) => {
    const l = new Uint8Array(8 + ranges.length * 16);
    const v = new DataView(l.buffer);
    v.setUint16(0, l.length - 2);
    v.setUint16(2, ranges.length * 16);
    ranges.forEach(([lba, n], i) => {
      v.setBigUint64(8 + i * 16, BigInt(lba));
      v.setUint32(16 + i * 16, n);
    });
    return l;
  };
  const lbaStatus = async (h: Harness, lba: number) => {
    const d = (await h.run([0x9e, 0x12, ...be(lba, 8), ...be(4096, 4), 0, 0])).dataIn!;
    const v = new DataView(d.buffer, d.byteOffset);
    const out: [number, number, number][] = [];
    for (let at = 8; at < d.length; at += 16) {
      out.push([Number(v.getBigUint64(at)), v.getUint32(at + 8), d[at + 12]! & 0x0f]);
    }
    return out;
  };

  it("UNMAP deallocates, GET LBA STATUS reports it, reads return zeros", async () => {
    const h = new Harness({ blocks: 64 });
    await h.clearUa();
    await h.run(cdb10(0x2a, 0, 64), { dataOut: fill(64 * 512, 9) });
    expect(await lbaStatus(h, 0)).toEqual([[0, 64, 0]]);
    const l = unmapList([
      [8, 8],
      [32, 4],
    ]);
    expect((await h.run([0x42, 0, 0, 0, 0, 0, 0, ...be(l.length, 2), 0], { dataOut: l })).status).toBe(GOOD);
    expect(await lbaStatus(h, 0)).toEqual([
      [0, 8, 0],
      [8, 8, 1],
      [16, 16, 0],
      [32, 4, 1],
      [36, 28, 0],
    ]);
    expect(await lbaStatus(h, 10)).toEqual([
      [10, 6, 1],
      [16, 16, 0],
      [32, 4, 1],
      [36, 28, 0],
    ]);
    expect(h.backend.data[8 * 512]).toBe(0);
    expect(senseOf(await h.run([0x9e, 0x12, ...be(64, 8), ...be(4096, 4), 0, 0]))).toMatchObject({
      asc: 0x2100,
    });
  });

  it("GET LBA STATUS starts at the requested LBA even inside a physical block (SBC-4 LBA status descriptor relationships)", async () => {
    // libiscsi's GetLBAStatus.UnmapSingle asks for LBA i+1 after unmapping [0, i) and wants the
    // first descriptor at i+lbppb; SBC-4 requires it at i+1. We follow SBC-4.
    const h = new Harness({ blocks: 64 });
    h.backend.physicalBlockSize = 4096;
    await h.clearUa();
    await h.run(cdb10(0x2a, 0, 64), { dataOut: fill(64 * 512, 9) });
    const l = unmapList([[0, 8]]);
    expect((await h.run([0x42, 0, 0, 0, 0, 0, 0, ...be(l.length, 2), 0], { dataOut: l })).status).toBe(GOOD);
    expect(await lbaStatus(h, 9)).toEqual([[9, 55, 0]]);
    expect(await lbaStatus(h, 1)).toEqual([
      [1, 7, 1],
      [8, 56, 0],
    ]);
  });

  it("Block Limits: optimal unmap granularity is what the backend deallocates whole", async () => {
    const h = new Harness({ blocks: 64 });
    await h.clearUa();
    const granularity = async () => {
      const b0 = (await h.run([0x12, 1, 0xb0, 0, 255, 0])).dataIn!;
      const v = new DataView(b0.buffer, b0.byteOffset);
      return { transfer: v.getUint16(6), unmap: v.getUint32(28), alignment: v.getUint32(32) };
    };
    expect(await granularity()).toEqual({ transfer: 1, unmap: 1, alignment: 0 });
    h.backend.physicalBlockSize = 4096;
    expect(await granularity()).toEqual({ transfer: 8, unmap: 8, alignment: 0 });
    h.backend.unmapGranularity = 64 * 1024;
    expect(await granularity()).toEqual({ transfer: 8, unmap: 128, alignment: 0 });
  });

  it("UNMAP: bad lists and ranges", async () => {
    const h = new Harness({ blocks: 64 });
    await h.clearUa();
    const short = await h.run([0x42, 0, 0, 0, 0, 0, 0, 0, 4, 0], { dataOut: new Uint8Array(4) });
    expect(senseOf(short)).toMatchObject({ key: ILLEGAL, asc: 0x1a00 });
    const beyond = unmapList([[60, 8]]);
    expect(
      senseOf(await h.run([0x42, 0, 0, 0, 0, 0, 0, ...be(beyond.length, 2), 0], { dataOut: beyond })),
    ).toMatchObject({ asc: 0x2100 });
    expect(senseOf(await h.run([0x42, 1, 0, 0, 0, 0, 0, 0, 24, 0]))).toMatchObject({ asc: 0x2400 });
    expect((await h.run([0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0])).status).toBe(GOOD);
  });

  it("WRITE SAME writes the pattern, UNMAP bit deallocates, NDOB needs no data, 0 blocks = to the end", async () => {
    const h = new Harness({ blocks: 64 });
    await h.clearUa();
    const pattern = fill(512, 0x5a);
    expect((await h.run(cdb10(0x41, 2, 3), { dataOut: pattern })).status).toBe(GOOD);
    expect([h.backend.data[2 * 512], h.backend.data[5 * 512 - 1], h.backend.data[5 * 512]]).toEqual([
      0x5a, 0x5a, 0,
    ]);
    expect((await h.run(cdb10(0x41, 2, 3, 0x08), { dataOut: pattern })).status).toBe(GOOD);
    expect(h.backend.mapped.slice(2, 5)).toEqual([false, false, false]);
    expect(h.backend.data[2 * 512]).toBe(0);
    const ndob = await h.run(cdb16(0x93, 60, 0, 0x01), { edtl: 0 });
    expect(ndob.status).toBe(GOOD);
    expect(ndob.dataOutLength).toBe(0);
    expect(senseOf(await h.run(cdb10(0x41, 60, 5), { dataOut: pattern }))).toMatchObject({ asc: 0x2100 });
    expect(senseOf(await h.run(cdb10(0x41, 0, 1, 0x10), { dataOut: pattern }))).toMatchObject({
      asc: 0x2400,
    });
    expect(h.backend.open.size).toBe(0);
  });
});

describe("REPORT SUPPORTED OPERATION CODES", () => {
  it("lists every command; one-command form returns the usage map", async () => {
    const h = new Harness();
    await h.clearUa();
    const all = (await h.run([0xa3, 0x0c, 0, 0, 0, 0, ...be(65536, 4), 0, 0])).dataIn!;
    const len = new DataView(all.buffer, all.byteOffset).getUint32(0);
    expect(len).toBe(all.length - 4);
    const opcodes = new Set<number>();
    for (let at = 4; at < all.length; at += 8) opcodes.add(all[at]!);
    for (const op of [0x00, 0x12, 0x28, 0x2a, 0x35, 0x41, 0x42, 0x5e, 0x5f, 0x89, 0x9e, 0xa0]) {
      expect(opcodes.has(op)).toBe(true);
    }
    const one = (await h.run([0xa3, 0x0c, 0x01, 0x28, 0, 0, ...be(64, 4), 0, 0])).dataIn!;
    expect(one[1]! & 0x07).toBe(3);
    expect((one[2]! << 8) | one[3]!).toBe(10);
    expect(one[4]).toBe(0x28);
    const rctd = (await h.run([0xa3, 0x0c, 0x81, 0x28, 0, 0, ...be(64, 4), 0, 0])).dataIn!;
    expect(rctd.length).toBe(4 + 10 + 12);
    const sa = (await h.run([0xa3, 0x0c, 0x02, 0x9e, 0, 0x10, ...be(64, 4), 0, 0])).dataIn!;
    expect(sa[1]! & 0x07).toBe(3);
    expect(senseOf(await h.run([0xa3, 0x0c, 0x01, 0x9e, 0, 0x10, ...be(64, 4), 0, 0]))).toMatchObject({
      asc: 0x2400,
    });
    const missing = (await h.run([0xa3, 0x0c, 0x01, 0xc0, 0, 0, ...be(64, 4), 0, 0])).dataIn!;
    expect(missing[1]! & 0x07).toBe(1);
  });

  it("REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS", async () => {
    const h = new Harness();
    await h.clearUa();
    const d = (await h.run([0xa3, 0x0d, 0, 0, 0, 0, ...be(4, 4), 0, 0])).dataIn!;
    expect(d[0]! & 0x80).toBe(0x80);
    expect(d[0]! & 0x08).toBe(0x08);
  });
});

describe("LUN reset", () => {
  it("tells every nexus and drops the SPC-2 reservation", async () => {
    const h = new Harness();
    h.target.nexusLoggedIn(nexus(2));
    await h.clearUa();
    await h.clearUa(nexus(2));
    expect((await h.run([0x16, 0, 0, 0, 0, 0])).status).toBe(GOOD);
    expect((await h.run(cdb10(0x28, 0, 1), { nexus: nexus(2) })).status).toBe(0x18);
    h.target.taskManagement("lun-reset", 0, nexus(1));
    expect(senseOf(await h.run([0, 0, 0, 0, 0, 0], { nexus: nexus(2) }))).toMatchObject({ asc: 0x2903 });
    expect((await h.run(cdb10(0x28, 0, 1), { nexus: nexus(2) })).status).toBe(GOOD);
  });
});

describe("READ into the transport's Data-In buffers", () => {
  const read6 = (lba: number, blocks: number) => [
    0x08,
    (lba >> 16) & 0x1f,
    (lba >> 8) & 0xff,
    lba & 0xff,
    blocks,
    0,
  ];
  const read12 = (lba: number, blocks: number) => [0xa8, 0, ...be(lba, 4), ...be(blocks, 4), 0, 0];

  it("READ 6/10/12/16 return a view of the buffer they were handed, exactly the bytes read", async () => {
    const h = new Harness();
    await h.clearUa();
    const pattern = Uint8Array.from({ length: 8 * 512 }, (_, i) => (i * 7 + 3) & 0xff);
    expect((await h.run(cdb10(0x2a, 16, 8), { dataOut: pattern })).status).toBe(GOOD);
    for (const cdb of [read6(16, 8), cdb10(0x28, 16, 8), read12(16, 8), cdb16(0x88, 16, 8)]) {
      const before = h.dataIn.handedOut.length;
      const r = await h.run(cdb);
      expect(r.status).toBe(GOOD);
      expect(h.dataIn.handedOut.length).toBe(before + 1);
      const handed = h.dataIn.handedOut[before];
      expect(r.dataIn?.buffer).toBe(handed?.buffer);
      expect(r.dataIn?.length).toBe(8 * 512); // not the handed buffer's larger size
      expect(Buffer.from(r.dataIn ?? []).equals(Buffer.from(pattern))).toBe(true);
    }
  });

  it("a zero-length READ, a failed READ's range check, VERIFY and COMPARE AND WRITE take no buffer", async () => {
    const h = new Harness({ blocks: 1024 });
    await h.clearUa();
    expect((await h.run(cdb10(0x28, 0, 0))).status).toBe(GOOD);
    expect((await h.run(cdb10(0x28, 1020, 8))).status).toBe(2); // LBA out of range
    expect((await h.run(cdb10(0x2f, 0, 8))).status).toBe(GOOD); // VERIFY BYTCHK=0
    const caw = [0x89, 0, ...be(0, 8), 0, 0, 0, 1, 0, 0];
    expect((await h.run(caw, { dataOut: fill(1024, 0) })).status).toBe(GOOD);
    expect(h.dataIn.handedOut).toHaveLength(0);
  });
});
