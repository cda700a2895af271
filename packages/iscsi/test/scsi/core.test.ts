import { describe, expect, it } from "vitest";
import { createScsiTargetPort } from "../../src/index.js";
import { be, cdb10, cdb16, Harness, nexus, senseOf } from "./harness.js";
import { MemoryBackend } from "./memory-backend.js";

const GOOD = 0;
const CHECK = 2;
const ILLEGAL = 5;
const UA = 6;

describe("unit attentions", () => {
  it("reports POWER ON once per nexus, but not to INQUIRY / REPORT LUNS", async () => {
    const h = new Harness();
    const inq = await h.run([0x12, 0, 0, 0, 36, 0]);
    expect(inq.status).toBe(GOOD);
    const rl = await h.run([0xa0, 0, 0, 0, 0, 0, ...be(256, 4), 0, 0]);
    expect(rl.status).toBe(GOOD);
    const first = await h.run([0, 0, 0, 0, 0, 0]);
    expect(first.status).toBe(CHECK);
    expect(senseOf(first)).toMatchObject({ key: UA, asc: 0x2900 });
    expect((await h.run([0, 0, 0, 0, 0, 0])).status).toBe(GOOD);
  });

  it("REQUEST SENSE consumes the unit attention", async () => {
    const h = new Harness();
    const rs = await h.run([0x03, 0, 0, 0, 252, 0]);
    expect(rs.status).toBe(GOOD);
    expect(senseOf({ status: 2, sense: rs.dataIn! })).toMatchObject({ key: UA, asc: 0x2900 });
    const again = await h.run([0x03, 0, 0, 0, 252, 0]);
    expect(senseOf({ status: 2, sense: again.dataIn! })).toMatchObject({ key: 0, asc: 0 });
    expect((await h.run([0, 0, 0, 0, 0, 0])).status).toBe(GOOD);
  });

  it("capacity change and LUN inventory change reach every nexus", async () => {
    const h = new Harness();
    h.target.nexusLoggedIn(nexus(2));
    await h.clearUa(nexus(1));
    await h.clearUa(nexus(2));
    h.backend.resize(2048);
    for (const n of [nexus(1), nexus(2)]) {
      const r = await h.run([0, 0, 0, 0, 0, 0], { nexus: n });
      expect(senseOf(r)).toMatchObject({ key: UA, asc: 0x2a09 });
    }
    h.target.removeLun(5);
    h.target.addLun(1, h.backend);
    const r = await h.run([0, 0, 0, 0, 0, 0]);
    expect(senseOf(r)).toMatchObject({ key: UA, asc: 0x3f0e });
    // REPORT LUNS clears it for the nexus that ran it.
    await h.run([0xa0, 0, 0, 0, 0, 0, ...be(256, 4), 0, 0], { nexus: nexus(2) });
    expect((await h.run([0, 0, 0, 0, 0, 0], { nexus: nexus(2) })).status).toBe(GOOD);
  });

  it("logout forgets the nexus's queue; a new login starts with POWER ON only", async () => {
    const h = new Harness();
    h.target.nexusLoggedOut(nexus(1));
    h.target.nexusLoggedIn(nexus(1));
    expect(senseOf(await h.run([0, 0, 0, 0, 0, 0]))).toMatchObject({ asc: 0x2900 });
    expect((await h.run([0, 0, 0, 0, 0, 0])).status).toBe(GOOD);
  });
});

describe("bad CDBs", () => {
  it("unknown opcode: INVALID COMMAND OPERATION CODE", async () => {
    const h = new Harness();
    await h.clearUa();
    const r = await h.run([0xc9, 0, 0, 0, 0, 0]);
    expect(r.status).toBe(CHECK);
    expect(senseOf(r)).toMatchObject({ key: ILLEGAL, asc: 0x2000 });
  });

  it("unknown service action: INVALID FIELD IN CDB at byte 1", async () => {
    const h = new Harness();
    await h.clearUa();
    const r = await h.run([0x9e, 0x1f, ...new Array(14).fill(0)]);
    expect(senseOf(r)).toMatchObject({ key: ILLEGAL, asc: 0x2400 });
    expect(senseOf(r).sks).toEqual([0xc8 | 4, 0, 1]);
  });

  it("reserved bit set: INVALID FIELD IN CDB with a bit pointer", async () => {
    const h = new Harness();
    await h.clearUa();
    const cdb = cdb10(0x28, 0, 1);
    cdb[6] = 0x80; // reserved bit above GROUP NUMBER
    const r = await h.run(cdb);
    expect(senseOf(r)).toMatchObject({ key: ILLEGAL, asc: 0x2400, sks: [0xc8 | 7, 0, 6] });
  });

  it("NACA in the control byte is refused", async () => {
    const h = new Harness();
    await h.clearUa();
    const r = await h.run([0, 0, 0, 0, 0, 0x04]);
    expect(senseOf(r)).toMatchObject({ key: ILLEGAL, asc: 0x2400, sks: [0xc8 | 2, 0, 5] });
  });

  it("RDPROTECT without protection information is refused", async () => {
    const h = new Harness();
    await h.clearUa();
    for (const cdb of [cdb10(0x28, 0, 1, 0x20), cdb16(0x88, 0, 1, 0x60), cdb10(0x2a, 0, 1, 0xe0)]) {
      const r = await h.run(cdb, { dataOut: new Uint8Array(512) });
      expect(senseOf(r)).toMatchObject({ key: ILLEGAL, asc: 0x2400 });
    }
  });

  it("no such LUN: LOGICAL UNIT NOT SUPPORTED; INQUIRY answers with PQ=3", async () => {
    const h = new Harness();
    const r = await h.run([0, 0, 0, 0, 0, 0], { lun: 7 });
    expect(senseOf(r)).toMatchObject({ key: ILLEGAL, asc: 0x2500 });
    const inq = await h.run([0x12, 0, 0, 0, 96, 0], { lun: 7 });
    expect(inq.dataIn![0]).toBe(0x7f);
  });
});

describe("INQUIRY", () => {
  it("standard data: SPC-4, HiSup, CmdQue, vendor, version descriptors, allocation length", async () => {
    const h = new Harness();
    const r = await h.run([0x12, 0, 0, 0, 255, 0]);
    const d = r.dataIn!;
    expect(d.length).toBe(96);
    expect(d[2]).toBe(0x06);
    expect(d[3]).toBe(0x12);
    expect(d[4]).toBe(91);
    expect(d[7]! & 0x02).toBe(0x02);
    expect(new TextDecoder().decode(d.subarray(8, 16))).toBe("LIVESNAP");
    expect([...d.subarray(58, 66)]).toEqual([0x00, 0xa0, 0x09, 0x60, 0x04, 0x60, 0x04, 0xc0]);
    for (const alloc of [0, 5, 36]) {
      const t = await h.run([0x12, 0, 0, ...be(alloc, 2), 0]);
      expect(t.dataIn?.length ?? 0).toBe(alloc);
    }
  });

  it("EVPD=0 with a page code is refused; unknown VPD page is refused", async () => {
    const h = new Harness();
    expect(senseOf(await h.run([0x12, 0, 0x80, 0, 255, 0]))).toMatchObject({
      asc: 0x2400,
      sks: [0xc0, 0, 2],
    });
    expect(senseOf(await h.run([0x12, 1, 0x42, 0, 255, 0]))).toMatchObject({ asc: 0x2400 });
  });

  it("VPD 00 lists the pages it serves, and each is served", async () => {
    const h = new Harness();
    const r = await h.run([0x12, 1, 0, 0, 255, 0]);
    const pages = [...r.dataIn!.subarray(4)];
    expect(pages).toEqual([0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2]);
    for (const p of pages) {
      const v = await h.run([0x12, 1, p, 0xff, 0xff, 0]);
      expect(v.status).toBe(GOOD);
      expect(v.dataIn![1]).toBe(p);
      expect(v.dataIn!.length).toBe(4 + ((v.dataIn![2]! << 8) | v.dataIn![3]!));
    }
  });

  it("VPD 83 has a permanent NAA-6 designator that depends only on the backend id", async () => {
    const a = new Harness();
    const b = new Harness();
    const naaOf = async (h: Harness) => {
      const d = (await h.run([0x12, 1, 0x83, 0xff, 0xff, 0])).dataIn!;
      // First designator: code set binary, association LU, type NAA, 16 bytes, NAA=6.
      expect([d[4], d[5], d[7]]).toEqual([0x01, 0x03, 16]);
      expect(d[8]! >> 4).toBe(6);
      return [...d.subarray(8, 24)];
    };
    expect(await naaOf(a)).toEqual(await naaOf(b));
    const serial = async (h: Harness) =>
      new TextDecoder().decode((await h.run([0x12, 1, 0x80, 0, 255, 0])).dataIn!.subarray(4));
    expect(await serial(a)).toMatch(/^[0-9a-f]{32}$/);
    expect(await serial(a)).toBe(await serial(b));
  });

  it("VPD B2 and READ CAPACITY(16) announce thin provisioning", async () => {
    const h = new Harness();
    await h.clearUa();
    const b2 = (await h.run([0x12, 1, 0xb2, 0, 255, 0])).dataIn!;
    expect(b2[5]! & 0xe0).toBe(0xe0);
    expect(b2[6]! & 0x07).toBe(2);
    const rc = (await h.run([0x9e, 0x10, ...new Array(8).fill(0), ...be(32, 4), 0, 0])).dataIn!;
    expect(rc[14]! & 0x80).toBe(0x80);
  });
});

describe("READ CAPACITY", () => {
  it("10 and 16 report the last LBA and block size", async () => {
    const h = new Harness({ blockSize: 4096, blocks: 300 });
    await h.clearUa();
    const r10 = (await h.run([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0])).dataIn!;
    expect([...r10]).toEqual([0, 0, 1, 43, 0, 0, 0x10, 0]);
    const r16 = (await h.run([0x9e, 0x10, ...new Array(8).fill(0), ...be(32, 4), 0, 0])).dataIn!;
    expect([...r16.subarray(0, 12)]).toEqual([0, 0, 0, 0, 0, 0, 1, 43, 0, 0, 0x10, 0]);
    const trunc = await h.run([0x9e, 0x10, ...new Array(8).fill(0), ...be(8, 4), 0, 0]);
    expect(trunc.dataIn!.length).toBe(8);
  });

  it("READ CAPACITY(10) with an LBA but no PMI is refused", async () => {
    const h = new Harness();
    await h.clearUa();
    expect(senseOf(await h.run([0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0]))).toMatchObject({ asc: 0x2400 });
  });
});

describe("READ / WRITE", () => {
  it("round-trips data through every CDB size", async () => {
    const h = new Harness();
    await h.clearUa();
    const data = new Uint8Array(1024).map((_, i) => (i * 7) & 0xff);
    const writes = [
      [0x0a, 0, 0, 10, 2, 0],
      cdb10(0x2a, 20, 2),
      [0xaa, 0, ...be(30, 4), ...be(2, 4), 0, 0],
      cdb16(0x8a, 40, 2),
    ];
    const reads = [
      [0x08, 0, 0, 10, 2, 0],
      cdb10(0x28, 20, 2),
      [0xa8, 0, ...be(30, 4), ...be(2, 4), 0, 0],
      cdb16(0x88, 40, 2),
    ];
    for (let i = 0; i < 4; i++) {
      const w = await h.run(writes[i]!, { dataOut: data });
      expect(w.status).toBe(GOOD);
      expect(w.dataOutLength).toBe(1024);
      const r = await h.run(reads[i]!);
      expect(r.dataIn).toEqual(data);
    }
    expect(h.backend.open.size).toBe(0);
  });

  it("READ(6) with 0 blocks transfers 256 blocks", async () => {
    const h = new Harness();
    await h.clearUa();
    const r = await h.run([0x08, 0, 0, 0, 0, 0], { edtl: 256 * 512 });
    expect(r.dataIn!.length).toBe(256 * 512);
  });

  it("beyond the end: LBA OUT OF RANGE; zero blocks at the end is fine", async () => {
    const h = new Harness({ blocks: 100 });
    await h.clearUa();
    expect(senseOf(await h.run(cdb10(0x28, 99, 2)))).toMatchObject({ key: ILLEGAL, asc: 0x2100 });
    expect(senseOf(await h.run(cdb16(0x88, 2 ** 63, 1)))).toMatchObject({ asc: 0x2100 });
    expect(senseOf(await h.run(cdb10(0x28, 101, 0)))).toMatchObject({ asc: 0x2100 });
    expect((await h.run(cdb10(0x28, 100, 0))).status).toBe(GOOD);
    const w = await h.run(cdb10(0x2a, 100, 1), { dataOut: new Uint8Array(512) });
    expect(senseOf(w)).toMatchObject({ asc: 0x2100 });
    expect(h.backend.open.size).toBe(0);
  });

  it("write to a read-only LUN: DATA PROTECT / WRITE PROTECTED", async () => {
    const h = new Harness({ readOnly: true });
    await h.clearUa();
    const r = await h.run(cdb10(0x2a, 0, 1), { dataOut: new Uint8Array(512) });
    expect(senseOf(r)).toMatchObject({ key: 7, asc: 0x2700 });
  });

  it("EDTL shorter than the CDB writes only the blocks sent and reports the overflow length", async () => {
    const h = new Harness();
    await h.clearUa();
    const r = await h.run(cdb10(0x2a, 0, 2), { dataOut: new Uint8Array(512).fill(9), edtl: 512 });
    expect(r.status).toBe(GOOD);
    expect(r.dataOutLength).toBe(1024);
    expect(h.backend.data[0]).toBe(9);
    expect(h.backend.data[512]).toBe(0);
  });

  it("FUA, and write cache disabled via MODE SELECT, force writes to stable storage", async () => {
    const h = new Harness();
    await h.clearUa();
    await h.run(cdb10(0x2a, 0, 1, 0x08), { dataOut: new Uint8Array(512) });
    expect(h.backend.fuaWrites).toBe(1);
    await h.run(cdb10(0x2a, 0, 1), { dataOut: new Uint8Array(512) });
    expect(h.backend.fuaWrites).toBe(1);
    const caching = (await h.run([0x1a, 0x08, 0x08, 0, 255, 0])).dataIn!;
    const list = Uint8Array.from([0, 0, 0, 0, ...caching.subarray(4)]);
    list[4] = 0x08;
    list[6] = list[6]! & ~0x04;
    expect((await h.run([0x15, 0x10, 0, 0, list.length, 0], { dataOut: list })).status).toBe(GOOD);
    await h.run(cdb10(0x2a, 0, 1), { dataOut: new Uint8Array(512) });
    expect(h.backend.fuaWrites).toBe(2);
  });

  it("an abandoned write gives its ticket back", async () => {
    const h = new Harness();
    await h.clearUa();
    const adm = h.target.admit({
      lun: 0,
      cdb: Uint8Array.from(cdb10(0x2a, 0, 4)),
      nexus: nexus(1),
      expectedDataTransferLength: 2048,
      readBit: false,
      writeBit: true,
      taskTag: 1,
      attribute: "simple",
    });
    expect(adm.kind).toBe("ready");
    expect(h.backend.open.size).toBe(1);
    if (adm.kind === "ready") {
      h.target.abandon(adm);
      h.target.abandon(adm);
    }
    expect(h.backend.open.size).toBe(0);
  });

  it("SYNCHRONIZE CACHE flushes; beyond the end is refused", async () => {
    const h = new Harness({ blocks: 100 });
    await h.clearUa();
    expect((await h.run(cdb10(0x35, 0, 0))).status).toBe(GOOD);
    expect((await h.run(cdb16(0x91, 0, 100))).status).toBe(GOOD);
    expect(h.backend.flushes).toBe(2);
    expect(senseOf(await h.run(cdb10(0x35, 100, 1)))).toMatchObject({ asc: 0x2100 });
  });
});

describe("sense format", () => {
  it("D_SENSE in the control page switches to descriptor sense", async () => {
    const h = new Harness();
    await h.clearUa();
    const control = (await h.run([0x1a, 0x08, 0x0a, 0, 255, 0])).dataIn!;
    const list = Uint8Array.from([0, 0, 0, 0, ...control.subarray(4)]);
    list[6] = list[6]! | 0x04;
    expect((await h.run([0x15, 0x10, 0, 0, list.length, 0], { dataOut: list })).status).toBe(GOOD);
    const r = await h.run(cdb10(0x28, 5000, 1));
    expect(r.sense![0]).toBe(0x72);
    expect(senseOf(r)).toMatchObject({ key: ILLEGAL, asc: 0x2100 });
  });
});

describe("MODE SENSE / MODE SELECT", () => {
  it("all pages, block descriptor, changeable and default values; saved values unsupported", async () => {
    const h = new Harness();
    await h.clearUa();
    const all = (await h.run([0x1a, 0, 0x3f, 0, 255, 0])).dataIn!;
    expect(all[0]).toBe(all.length - 1);
    expect(all[3]).toBe(8);
    const pages: number[] = [];
    for (let at = 12; at < all.length; at += 2 + all[at + 1]!) pages.push(all[at]! & 0x3f);
    expect(pages).toEqual([0x01, 0x08, 0x0a, 0x1c]);
    const changeable = (await h.run([0x1a, 0x08, 0x48, 0, 255, 0])).dataIn!;
    expect(changeable[4 + 2]).toBe(0x04);
    const ten = (await h.run([0x5a, 0x08, 0x08, 0, 0, 0, 0, 0, 255, 0])).dataIn!;
    expect((ten[0]! << 8) | ten[1]!).toBe(ten.length - 2);
    expect(senseOf(await h.run([0x1a, 0, 0xc8, 0, 255, 0]))).toMatchObject({ asc: 0x3900 });
    expect(senseOf(await h.run([0x1a, 0, 0x05, 0, 255, 0]))).toMatchObject({ asc: 0x2400 });
    const trunc = await h.run([0x1a, 0, 0x3f, 0, 4, 0]);
    expect(trunc.dataIn!.length).toBe(4);
  });

  it("MODE SELECT refuses non-changeable bits and tells other nexuses", async () => {
    const h = new Harness();
    h.target.nexusLoggedIn(nexus(2));
    await h.clearUa();
    await h.clearUa(nexus(2));
    const control = (await h.run([0x1a, 0x08, 0x0a, 0, 255, 0])).dataIn!;
    const list = Uint8Array.from([0, 0, 0, 0, ...control.subarray(4)]);
    list[7] = 0x80; // TAS/other bits in byte 3 are not changeable
    const bad = await h.run([0x15, 0x10, 0, 0, list.length, 0], { dataOut: list });
    expect(senseOf(bad)).toMatchObject({ asc: 0x2600 });
    list[7] = control[7]!;
    list[6] = list[6]! | 0x04;
    expect((await h.run([0x15, 0x10, 0, 0, list.length, 0], { dataOut: list })).status).toBe(GOOD);
    expect(senseOf(await h.run([0, 0, 0, 0, 0, 0], { nexus: nexus(2) }))).toMatchObject({ asc: 0x2a01 });
    expect((await h.run([0, 0, 0, 0, 0, 0])).status).toBe(GOOD);
    expect(senseOf(await h.run([0x15, 0x11, 0, 0, list.length, 0], { dataOut: list }))).toMatchObject({
      asc: 0x2400,
    });
  });
});

describe("REPORT LUNS", () => {
  it("lists LUNs in order, with flat addressing above 255", async () => {
    const h = new Harness();
    h.target.addLun(300, h.backend);
    h.target.addLun(2, h.backend);
    const r = (await h.run([0xa0, 0, 0, 0, 0, 0, ...be(256, 4), 0, 0])).dataIn!;
    expect([...r.subarray(0, 4)]).toEqual([0, 0, 0, 24]);
    expect([...r.subarray(8, 10)]).toEqual([0, 0]);
    expect([...r.subarray(16, 18)]).toEqual([0, 2]);
    expect([...r.subarray(24, 26)]).toEqual([0x41, 0x2c]);
    expect(senseOf(await h.run([0xa0, 0, 0x10, 0, 0, 0, ...be(256, 4), 0, 0]))).toMatchObject({
      asc: 0x2400,
    });
  });
});

describe("internal errors", () => {
  it("become HARDWARE ERROR / INTERNAL TARGET FAILURE and reach onInternalError", async () => {
    const seen: unknown[] = [];
    const target = createScsiTargetPort({ onInternalError: (err) => seen.push(err) });
    const backend = new MemoryBackend(512, 16);
    backend.read = async () => {
      throw new Error("disk on fire");
    };
    target.addLun(0, backend);
    const cmd = {
      lun: 0,
      cdb: Uint8Array.from(cdb10(0x28, 0, 1)),
      nexus: nexus(1),
      expectedDataTransferLength: 512,
      readBit: true,
      writeBit: false,
      taskTag: 1,
      attribute: "simple" as const,
    };
    const adm = target.admit(cmd);
    if (adm.kind !== "ready") throw new Error("not admitted");
    const r = await target.execute(adm, undefined);
    expect(senseOf(r)).toMatchObject({ key: 0x4, asc: 0x4400 });
    expect(seen).toHaveLength(1);
    // A SCSI condition is not an internal error.
    const bad = target.admit({ ...cmd, cdb: Uint8Array.from([0xc9, 0, 0, 0, 0, 0]) });
    expect(bad.kind).toBe("immediate");
    expect(seen).toHaveLength(1);
  });
});
