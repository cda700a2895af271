// WRITE ATOMIC(16): hand-built CDBs against the in-memory backend, with the check order and the
// sense libiscsi's WriteAtomic16 tests expect, the Block Limits fields and REPORT SUPPORTED OPCODES.
import { describe, expect, it, vi } from "vitest";
import { be, cdb16, Harness, nexus, type Result, senseOf } from "./harness.js";

const MiB = 1024 * 1024;
const GOOD = 0;
const CHECK_CONDITION = 2;
const ILLEGAL_REQUEST = 5;
const DATA_PROTECT = 7;
const ABORTED_COMMAND = 0xb;
const INVALID_OPCODE = 0x2000;
const LBA_OUT_OF_RANGE = 0x2100;
const INVALID_FIELD = 0x2400;
const DPO = 0x10;
const FUA = 0x08;

/** WRITE ATOMIC(16); `flags` is byte 1 (WRPROTECT << 5 | DPO | FUA). */
const writeAtomic16 = (
  lba: number | bigint,
  blocks: number,
  { flags = 0, boundary = 0 }: { flags?: number; boundary?: number } = {},
) => [0x9c, flags, ...be(lba, 8), ...be(boundary, 2), ...be(blocks, 2), 0, 0];

/** A LUN whose backend writes atomically: 512-byte blocks on 4 KiB physical ones unless told. */
async function atomicLun(
  opts: {
    blockSize?: 512 | 4096;
    physicalBlockSize?: number;
    blocks?: number;
    maxAtomicBytes?: number;
    readOnly?: boolean;
  } = {},
): Promise<Harness> {
  const h = new Harness({
    blockSize: opts.blockSize ?? 512,
    blocks: opts.blocks ?? 4096,
    readOnly: opts.readOnly ?? false,
  });
  h.backend.physicalBlockSize = opts.physicalBlockSize ?? 4096;
  h.backend.maxAtomicBytes = opts.maxAtomicBytes ?? MiB;
  await h.clearUa();
  return h;
}

const pattern = (length: number) => Uint8Array.from({ length }, (_, i) => (i * 13 + 5) & 0xff);

/** Byte of the sense-key-specific field pointer, undefined when the sense has none. */
const fieldByte = (r: Result): number | undefined => {
  const sks = senseOf(r).sks;
  return sks ? (sks[1]! << 8) | sks[2]! : undefined;
};

describe("WRITE ATOMIC(16) writes", () => {
  it("writes the whole range through the backend's atomic write, and it reads back", async () => {
    const h = await atomicLun();
    const data = pattern(16 * 512);
    const w = await h.run(writeAtomic16(8, 16), { dataOut: data });
    expect(w.status).toBe(GOOD);
    expect(w.dataOutLength).toBe(16 * 512);
    expect(h.backend.atomicWrites).toEqual([{ offset: 8 * 512, length: 16 * 512, fua: false }]);
    const r = await h.run(cdb16(0x88, 8, 16));
    expect(Buffer.from(r.dataIn!).equals(Buffer.from(data))).toBe(true);
    expect(h.backend.open.size).toBe(0);
  });

  it("accepts exactly the maximum, and the last granule of the LUN", async () => {
    const h = await atomicLun();
    expect((await h.run(writeAtomic16(0, 2048), { dataOut: pattern(MiB) })).status).toBe(GOOD);
    expect((await h.run(writeAtomic16(4096 - 8, 8), { dataOut: pattern(4096) })).status).toBe(GOOD);
    expect(h.backend.atomicWrites.map((w) => w.length)).toEqual([MiB, 4096]);
    expect(h.backend.open.size).toBe(0);
  });

  it("passes FUA through; DPO is accepted; a disabled write cache forces FUA", async () => {
    const h = await atomicLun();
    const data = pattern(4096);
    for (const flags of [FUA, DPO, DPO | FUA, 0]) {
      expect((await h.run(writeAtomic16(0, 8, { flags }), { dataOut: data })).status).toBe(GOOD);
    }
    expect(h.backend.atomicWrites.map((w) => w.fua)).toEqual([true, false, true, false]);
    const caching = (await h.run([0x1a, 0x08, 0x08, 0, 255, 0])).dataIn!;
    const list = Uint8Array.from([0, 0, 0, 0, ...caching.subarray(4)]);
    list[4] = 0x08;
    list[6] = list[6]! & ~0x04; // WCE off
    expect((await h.run([0x15, 0x10, 0, 0, list.length, 0], { dataOut: list })).status).toBe(GOOD);
    expect((await h.run(writeAtomic16(0, 8), { dataOut: data })).status).toBe(GOOD);
    expect(h.backend.atomicWrites.at(-1)?.fua).toBe(true);
    expect(h.backend.fuaWrites).toBe(0); // never through the plain write
  });

  it("0 blocks: GOOD with nothing admitted or written, even at a misaligned LBA or at the end", async () => {
    const h = await atomicLun();
    const admit = vi.spyOn(h.backend, "admit");
    for (const lba of [0, 1, 4096]) {
      const r = await h.run(writeAtomic16(lba, 0), { edtl: 0 });
      expect(r.status).toBe(GOOD);
      expect(r.dataOutLength).toBe(0);
    }
    expect(admit).not.toHaveBeenCalled();
    expect(h.backend.atomicWrites).toEqual([]);
    expect(h.backend.open.size).toBe(0);
  });

  it("4 KiB blocks on 4 KiB physical: any LBA and length up to the maximum", async () => {
    const h = await atomicLun({ blockSize: 4096, blocks: 1024 });
    expect((await h.run(writeAtomic16(3, 1), { dataOut: pattern(4096) })).status).toBe(GOOD);
    expect((await h.run(writeAtomic16(5, 256), { dataOut: pattern(MiB) })).status).toBe(GOOD);
    const over = await h.run(writeAtomic16(0, 257), { dataOut: pattern(257 * 4096) });
    expect(senseOf(over)).toMatchObject({ key: ILLEGAL_REQUEST, asc: INVALID_FIELD });
    expect(fieldByte(over)).toBe(12);
    // libiscsi BeyondEol: 2 × 256 blocks straddling the end is out of range before it is too long.
    const straddle = await h.run(writeAtomic16(1024 - 256, 512), { dataOut: pattern(2 * MiB) });
    expect(senseOf(straddle)).toMatchObject({ key: ILLEGAL_REQUEST, asc: LBA_OUT_OF_RANGE });
    expect(h.backend.atomicWrites.map((w) => w.offset)).toEqual([3 * 4096, 5 * 4096]);
    expect(h.backend.open.size).toBe(0);
  });

  it("a Data-Out shorter than the CDB fails the command with its ticket cancelled", async () => {
    const h = await atomicLun();
    const r = await h.run(writeAtomic16(0, 16), { dataOut: pattern(8 * 512), edtl: 16 * 512 });
    expect(senseOf(r)).toMatchObject({ key: ABORTED_COMMAND, asc: 0x4b00 });
    expect(h.backend.atomicWrites).toEqual([]);
    expect(h.backend.open.size).toBe(0);
  });

  it("an abandoned WRITE ATOMIC gives its ticket back", () => {
    const h = new Harness({ blocks: 4096 });
    h.backend.physicalBlockSize = 4096;
    h.backend.maxAtomicBytes = MiB;
    const adm = h.target.admit({
      lun: 0,
      cdb: Uint8Array.from(writeAtomic16(0, 8)),
      nexus: nexus(2),
      expectedDataTransferLength: 4096,
      readBit: false,
      writeBit: true,
      taskTag: 1,
      attribute: "simple",
    });
    if (adm.kind !== "ready") throw new Error("not admitted");
    expect(h.backend.open.size).toBe(1);
    h.target.abandon(adm);
    h.target.abandon(adm);
    expect(h.backend.open.size).toBe(0);
  });
});

interface FailedCheck {
  name: string;
  cdb: number[];
  key: number;
  asc: number;
  /** Byte of the sense-key-specific field pointer, when one is expected. */
  field?: number;
  /** Data-Out sent (default: the blocks the CDB describes). */
  dataOut?: number;
}

// 512-byte blocks, 4 KiB physical (alignment and granularity 8), 4096 blocks, maximum 2048 blocks.
const failedChecks: FailedCheck[] = [
  ...[1, 2, 3, 4, 5, 6, 7].map(
    (wrprotect): FailedCheck => ({
      name: `WRPROTECT ${wrprotect}`,
      cdb: writeAtomic16(0, 8, { flags: wrprotect << 5 }),
      key: ILLEGAL_REQUEST,
      asc: INVALID_FIELD,
      field: 1,
    }),
  ),
  {
    name: "WRPROTECT is checked before the LBA",
    cdb: writeAtomic16(2n ** 63n, 8, { flags: 0x20 }),
    key: ILLEGAL_REQUEST,
    asc: INVALID_FIELD,
    field: 1,
  },
  {
    name: "straddling the end with more than the maximum is out of range, not too long",
    cdb: writeAtomic16(4096 - 8, 4096),
    key: ILLEGAL_REQUEST,
    asc: LBA_OUT_OF_RANGE,
  },
  {
    name: "straddling the end misaligned and off-granularity is out of range",
    cdb: writeAtomic16(4095, 3),
    key: ILLEGAL_REQUEST,
    asc: LBA_OUT_OF_RANGE,
  },
  { name: "LBA 2^63", cdb: writeAtomic16(2n ** 63n, 8), key: ILLEGAL_REQUEST, asc: LBA_OUT_OF_RANGE },
  {
    name: "LBA 2^64 - alignment",
    cdb: writeAtomic16(2n ** 64n - 8n, 8),
    key: ILLEGAL_REQUEST,
    asc: LBA_OUT_OF_RANGE,
  },
  {
    name: "0 blocks one granule past the end",
    cdb: writeAtomic16(4096 + 8, 0),
    key: ILLEGAL_REQUEST,
    asc: LBA_OUT_OF_RANGE,
  },
  {
    name: "0 blocks at LBA 2^63",
    cdb: writeAtomic16(2n ** 63n, 0),
    key: ILLEGAL_REQUEST,
    asc: LBA_OUT_OF_RANGE,
  },
  {
    name: "0 blocks at LBA 2^64 - alignment",
    cdb: writeAtomic16(2n ** 64n - 8n, 0),
    key: ILLEGAL_REQUEST,
    asc: LBA_OUT_OF_RANGE,
  },
  {
    name: "ATOMIC BOUNDARY past the end is out of range first",
    cdb: writeAtomic16(4096, 8, { boundary: 8 }),
    key: ILLEGAL_REQUEST,
    asc: LBA_OUT_OF_RANGE,
  },
  {
    name: "ATOMIC BOUNDARY",
    cdb: writeAtomic16(0, 8, { boundary: 8 }),
    key: ILLEGAL_REQUEST,
    asc: INVALID_FIELD,
    field: 10,
  },
  {
    name: "ATOMIC BOUNDARY on 0 blocks",
    cdb: writeAtomic16(0, 0, { boundary: 1 }),
    key: ILLEGAL_REQUEST,
    asc: INVALID_FIELD,
    field: 10,
  },
  {
    name: "LBA not a multiple of the atomic alignment",
    cdb: writeAtomic16(1, 8),
    key: ILLEGAL_REQUEST,
    asc: INVALID_FIELD,
    field: 2,
  },
  {
    name: "length not a multiple of the atomic granularity",
    cdb: writeAtomic16(0, 4),
    key: ILLEGAL_REQUEST,
    asc: INVALID_FIELD,
    field: 12,
  },
  {
    name: "one block (libiscsi's granularity probe)",
    cdb: writeAtomic16(0, 1),
    key: ILLEGAL_REQUEST,
    asc: INVALID_FIELD,
    field: 12,
  },
  {
    name: "more than the maximum atomic transfer length",
    cdb: writeAtomic16(0, 2048 + 8),
    key: ILLEGAL_REQUEST,
    asc: INVALID_FIELD,
    field: 12,
  },
  {
    name: "an EDTL shorter than the CDB (no partial atomic write)",
    cdb: writeAtomic16(0, 16),
    dataOut: 8 * 512,
    key: ILLEGAL_REQUEST,
    asc: INVALID_FIELD,
    field: 12,
  },
];

describe("WRITE ATOMIC(16) checks, in libiscsi's order, leave no ticket behind", () => {
  for (const c of failedChecks) {
    it(c.name, async () => {
      const h = await atomicLun();
      const blocks = (c.cdb[12]! << 8) | c.cdb[13]!;
      const r = await h.run(c.cdb, { dataOut: pattern(c.dataOut ?? Math.max(1, blocks) * 512) });
      expect(r.status).toBe(CHECK_CONDITION);
      expect(senseOf(r)).toMatchObject({ key: c.key, asc: c.asc });
      if (c.field !== undefined) expect(fieldByte(r)).toBe(c.field);
      expect(h.backend.atomicWrites).toEqual([]);
      expect(h.backend.mapped.includes(true)).toBe(false);
      expect(h.backend.open.size).toBe(0);
    });
  }

  it("a read-only LUN: DATA PROTECT / WRITE PROTECTED", async () => {
    const h = await atomicLun({ readOnly: true });
    const r = await h.run(writeAtomic16(0, 8), { dataOut: pattern(4096) });
    expect(senseOf(r)).toMatchObject({ key: DATA_PROTECT, asc: 0x2700 });
    expect(h.backend.atomicWrites).toEqual([]);
    expect(h.backend.open.size).toBe(0);
  });

  it("a backend without atomic writes (or a limit under one granule): INVALID COMMAND OPERATION CODE", async () => {
    for (const maxAtomicBytes of [0, 2048]) {
      const h = await atomicLun({ maxAtomicBytes });
      for (const cdb of [writeAtomic16(0, 8), writeAtomic16(0, 8, { flags: 0x20 }), writeAtomic16(0, 0)]) {
        const r = await h.run(cdb, { dataOut: pattern(4096) });
        expect(senseOf(r)).toMatchObject({ key: ILLEGAL_REQUEST, asc: INVALID_OPCODE });
        expect(fieldByte(r)).toBe(0);
      }
      expect(h.backend.atomicWrites).toEqual([]);
      expect(h.backend.open.size).toBe(0);
    }
  });
});

describe("WRITE ATOMIC(16) in Block Limits and REPORT SUPPORTED OPERATION CODES", () => {
  const atomicLimits = async (h: Harness) => {
    const b0 = (await h.run([0x12, 1, 0xb0, 0, 255, 0])).dataIn!;
    const v = new DataView(b0.buffer, b0.byteOffset, b0.length);
    expect(v.getUint16(2)).toBe(0x3c);
    return {
      maxTransfer: v.getUint32(8),
      maxAtomic: v.getUint32(44),
      alignment: v.getUint32(48),
      granularity: v.getUint32(52),
      maxWithBoundary: v.getUint32(56),
      maxBoundary: v.getUint32(60),
    };
  };
  const noBoundaries = { maxWithBoundary: 0, maxBoundary: 0 };

  it("VPD B0: 512-byte blocks on 4 KiB physical, 4 KiB blocks, capped by the maximum transfer, unsupported", async () => {
    expect(await atomicLimits(await atomicLun())).toMatchObject({
      maxAtomic: 2048,
      alignment: 8,
      granularity: 8,
      ...noBoundaries,
    });
    expect(await atomicLimits(await atomicLun({ blockSize: 4096, blocks: 1024 }))).toMatchObject({
      maxAtomic: 256,
      alignment: 1,
      granularity: 1,
      ...noBoundaries,
    });
    const capped = await atomicLimits(await atomicLun({ maxAtomicBytes: 64 * MiB }));
    expect(capped.maxAtomic).toBe(capped.maxTransfer);
    expect(await atomicLimits(await atomicLun({ maxAtomicBytes: 0 }))).toMatchObject({
      maxAtomic: 0,
      alignment: 0,
      granularity: 0,
      ...noBoundaries,
    });
  });

  it("REPORT SUPPORTED OPERATION CODES lists 0x9C with DPO/FUA usage only where it is supported", async () => {
    const listed = async (h: Harness) => {
      const all = (await h.run([0xa3, 0x0c, 0, 0, 0, 0, ...be(65536, 4), 0, 0])).dataIn!;
      const opcodes = new Set<number>();
      for (let at = 4; at < all.length; at += 8) opcodes.add(all[at]!);
      const one = (await h.run([0xa3, 0x0c, 0x01, 0x9c, 0, 0, ...be(64, 4), 0, 0])).dataIn!;
      return { inList: opcodes.has(0x9c), support: one[1]! & 0x07, usage: [...one.subarray(4)] };
    };
    const supported = await atomicLun();
    // DPOFUA is reported in MODE SENSE, so the usage map must allow DPO and FUA.
    expect((await supported.run([0x1a, 0, 0x3f, 0, 255, 0])).dataIn![2]! & 0x10).toBe(0x10);
    expect(await listed(supported)).toEqual({
      inList: true,
      support: 3,
      usage: [0x9c, 0xf8, ...new Array<number>(12).fill(0xff), 0x3f, 0x07],
    });
    expect(await listed(await atomicLun({ maxAtomicBytes: 0 }))).toEqual({
      inList: false,
      support: 1,
      usage: [],
    });
  });
});
