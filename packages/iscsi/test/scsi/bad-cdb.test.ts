// Every bad-CDB case the handlers check, with the sense and the field pointer they must return.
import { describe, expect, it } from "vitest";
import { be, cdb10, cdb16, Harness, senseOf } from "./harness.js";

const INVALID_FIELD = 0x2400;

interface Case {
  name: string;
  cdb: number[];
  asc: number;
  /** [byte, bit] of the sense-key-specific field pointer, when one is expected. */
  field?: [number, number | undefined];
  dataOut?: number;
  edtl?: number;
}

const cases: Case[] = [
  { name: "INQUIRY CMDDT", cdb: [0x12, 0x02, 0, 0, 36, 0], asc: INVALID_FIELD, field: [1, 1] },
  {
    name: "INQUIRY page without EVPD",
    cdb: [0x12, 0, 0x83, 0, 36, 0],
    asc: INVALID_FIELD,
    field: [2, undefined],
  },
  {
    name: "INQUIRY unknown VPD page",
    cdb: [0x12, 1, 0x99, 0, 36, 0],
    asc: INVALID_FIELD,
    field: [2, undefined],
  },
  { name: "REPORT LUNS select report 3", cdb: [0xa0, 0, 3, 0, 0, 0, ...be(64, 4), 0, 0], asc: INVALID_FIELD },
  { name: "MODE SENSE saved values", cdb: [0x1a, 0, 0xc8, 0, 255, 0], asc: 0x3900 },
  { name: "MODE SENSE unknown page", cdb: [0x1a, 0, 0x07, 0, 255, 0], asc: INVALID_FIELD, field: [2, 5] },
  {
    name: "MODE SENSE subpage",
    cdb: [0x1a, 0, 0x08, 0x01, 255, 0],
    asc: INVALID_FIELD,
    field: [3, undefined],
  },
  { name: "MODE SELECT save pages", cdb: [0x15, 0x11, 0, 0, 0, 0], asc: INVALID_FIELD, field: [1, 0] },
  { name: "START STOP UNIT eject", cdb: [0x1b, 0, 0, 0, 0x02, 0], asc: INVALID_FIELD, field: [4, 1] },
  { name: "READ CAPACITY(10) LBA without PMI", cdb: [0x25, 0, 0, 0, 0, 9, 0, 0, 0, 0], asc: INVALID_FIELD },
  { name: "READ(10) RDPROTECT", cdb: cdb10(0x28, 0, 1, 0x20), asc: INVALID_FIELD, field: [1, 7] },
  {
    name: "READ(16) beyond the transfer limit",
    cdb: cdb16(0x88, 0, 70000),
    asc: INVALID_FIELD,
    field: [10, undefined],
  },
  { name: "READ(16) past the end", cdb: cdb16(0x88, 4000, 200), asc: 0x2100 },
  { name: "WRITE(16) WRPROTECT", cdb: cdb16(0x8a, 0, 1, 0x40), asc: INVALID_FIELD, dataOut: 512 },
  { name: "WRITE AND VERIFY(10) BYTCHK 1xb", cdb: cdb10(0x2e, 0, 1, 0x04), asc: INVALID_FIELD, dataOut: 512 },
  { name: "VERIFY(16) BYTCHK 10b", cdb: cdb16(0x8f, 0, 1, 0x04), asc: INVALID_FIELD, field: [1, 2] },
  { name: "WRITE SAME(10) ANCHOR", cdb: cdb10(0x41, 0, 1, 0x10), asc: INVALID_FIELD, dataOut: 512 },
  { name: "WRITE SAME(10) LBDATA", cdb: cdb10(0x41, 0, 1, 0x02), asc: INVALID_FIELD, dataOut: 512 },
  { name: "WRITE SAME(16) two blocks of data", cdb: cdb16(0x93, 0, 1), asc: INVALID_FIELD, dataOut: 1024 },
  { name: "WRITE SAME(16) past the end", cdb: cdb16(0x93, 4090, 10), asc: 0x2100, dataOut: 512 },
  { name: "UNMAP ANCHOR", cdb: [0x42, 1, 0, 0, 0, 0, 0, 0, 24, 0], asc: INVALID_FIELD, field: [1, 0] },
  {
    name: "COMPARE AND WRITE too many blocks",
    cdb: [0x89, 0, ...be(0, 8), 0, 0, 0, 255, 0, 0],
    asc: INVALID_FIELD,
  },
  { name: "GET LBA STATUS past the end", cdb: [0x9e, 0x12, ...be(4096, 8), ...be(64, 4), 0, 0], asc: 0x2100 },
  {
    name: "PERSISTENT RESERVE IN SA 4",
    cdb: [0x5e, 4, 0, 0, 0, 0, 0, 0, 64, 0],
    asc: INVALID_FIELD,
    field: [1, 4],
  },
  {
    name: "PERSISTENT RESERVE OUT SA 8",
    cdb: [0x5f, 8, 0, 0, 0, ...be(24, 4), 0],
    asc: INVALID_FIELD,
    field: [1, 4],
  },
  { name: "PERSISTENT RESERVE OUT list of 20", cdb: [0x5f, 0, 0, 0, 0, ...be(20, 4), 0], asc: 0x1a00 },
  {
    name: "RESERVE(10) 3RDPTY",
    cdb: [0x56, 0x10, 0, 0, 0, 0, 0, 0, 0, 0],
    asc: INVALID_FIELD,
    field: [1, 4],
  },
  {
    name: "REPORT SUPPORTED OPCODES reporting option 5",
    cdb: [0xa3, 0x0c, 0x05, 0, 0, 0, ...be(64, 4), 0, 0],
    asc: INVALID_FIELD,
  },
  {
    name: "RECEIVE COPY RESULTS SA 1",
    cdb: [0x84, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, ...be(64, 4), 0, 0],
    asc: INVALID_FIELD,
  },
  { name: "a LINK control byte", cdb: [0x00, 0, 0, 0, 0, 0x01], asc: INVALID_FIELD, field: [5, 0] },
];

describe("bad CDBs get ILLEGAL REQUEST with the right sense", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const h = new Harness({ blocks: 4096 });
      await h.clearUa();
      const opts = c.dataOut === undefined ? {} : { dataOut: new Uint8Array(c.dataOut) };
      const r = await h.run(c.cdb, opts);
      expect(r.status).toBe(2);
      const s = senseOf(r);
      expect(s.key).toBe(5);
      expect(s.asc).toBe(c.asc);
      if (c.field) {
        const [byte, bit] = c.field;
        expect((s.sks?.[0] ?? 0) & 0x40).toBe(0x40); // C/D: in the CDB
        expect((s.sks![1]! << 8) | s.sks![2]!).toBe(byte);
        if (bit !== undefined) expect(s.sks![0]! & 0x0f).toBe(0x08 | bit);
      }
      expect(h.backend.open.size).toBe(0);
    });
  }
});
