// Property tests: random CDBs never crash the target or leak a write ticket; random command
// sequences read back what a plain byte-array model says they wrote.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/scsi/command-table.js";
import { be, Harness, nexus, senseOf } from "./harness.js";

const RUNS = Number(process.env.SCSI_PROPERTY_RUNS ?? 300);
const BLOCKS = 64;
const BS = 512;

// Half well-formed (only bits the command's usage map allows), half raw bytes.
const cdbArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc
    .tuple(fc.constantFrom(...COMMANDS), fc.uint8Array({ minLength: 16, maxLength: 16 }))
    .map(([spec, raw]) => {
      const cdb = new Uint8Array(16);
      spec.usage.forEach((mask, i) => {
        cdb[i] = (raw[i] ?? 0) & mask;
      });
      cdb[0] = spec.opcode;
      cdb[spec.usage.length - 1] = 0;
      if (spec.serviceAction !== undefined) cdb[1] = ((cdb[1] ?? 0) & 0xe0) | spec.serviceAction;
      return cdb;
    }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
);

const stats = { total: 0, good: 0 };

describe("random CDBs", () => {
  it("always get a status, valid sense, and leave no write ticket open", async () => {
    await fc.assert(
      fc.asyncProperty(
        cdbArb,
        fc.integer({ min: 0, max: 3 * BS }),
        fc.boolean(),
        async (cdb, edtl, abandon) => {
          stats.total++;
          // Not logged in: no power-on unit attention in front of every random CDB.
          const h = new Harness({ blocks: BLOCKS, loggedIn: false });
          const adm = h.target.admit({
            lun: 0,
            cdb,
            nexus: nexus(1),
            expectedDataTransferLength: edtl,
            readBit: true,
            writeBit: edtl > 0,
            taskTag: 1,
            attribute: "simple",
          });
          let status: number;
          let sense: Uint8Array | undefined;
          if (adm.kind === "immediate") {
            ({ status, sense } = adm.response);
          } else if (abandon) {
            h.target.abandon(adm);
            status = 0;
          } else {
            expect(adm.dataOutLength).toBeLessThanOrEqual(edtl);
            const r = await h.target.execute(adm, new Uint8Array(adm.dataOutLength).fill(0x5a));
            ({ status, sense } = r);
          }
          expect([0x00, 0x02, 0x18]).toContain(status);
          if (status === 0x00) stats.good++;
          if (status === 0x02) {
            const s = senseOf({ status, ...(sense ? { sense } : {}) });
            expect([0x2, 0x3, 0x5, 0x6, 0x7, 0xa, 0xb, 0xe]).toContain(s.key);
            // A random CDB is never the target's fault.
            expect(s.key).not.toBe(0x4);
          }
          expect(h.backend.open.size).toBe(0);
        },
      ),
      { numRuns: RUNS },
    );
    // The generator must reach the handlers, not only the opcode/field checks.
    expect(stats.good).toBeGreaterThan(stats.total / 20);
  });
});

type Op =
  | { kind: "write"; lba: number; blocks: number; byte: number; sixteen: boolean }
  | { kind: "writeSame"; lba: number; blocks: number; byte: number; unmap: boolean }
  | { kind: "unmap"; lba: number; blocks: number }
  | { kind: "caw"; lba: number; byte: number; matches: boolean }
  | { kind: "read"; lba: number; blocks: number };

const range = fc
  .tuple(fc.integer({ min: 0, max: BLOCKS - 1 }), fc.integer({ min: 1, max: 8 }))
  .map(([lba, n]) => ({ lba, blocks: Math.min(n, BLOCKS - lba) }));

const op: fc.Arbitrary<Op> = fc.oneof(
  fc
    .tuple(range, fc.integer({ min: 1, max: 255 }), fc.boolean())
    .map(([r, byte, sixteen]) => ({ kind: "write" as const, ...r, byte, sixteen })),
  fc
    .tuple(range, fc.integer({ min: 0, max: 255 }), fc.boolean())
    .map(([r, byte, unmap]) => ({ kind: "writeSame" as const, ...r, byte, unmap })),
  range.map((r) => ({ kind: "unmap" as const, ...r })),
  fc
    .tuple(fc.integer({ min: 0, max: BLOCKS - 1 }), fc.integer({ min: 1, max: 255 }), fc.boolean())
    .map(([lba, byte, matches]) => ({ kind: "caw" as const, lba, byte, matches })),
  range.map((r) => ({ kind: "read" as const, ...r })),
);

describe("command sequences against a byte-array model", () => {
  it("read what the model wrote", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const h = new Harness({ blocks: BLOCKS });
        await h.clearUa();
        const model = new Uint8Array(BLOCKS * BS);
        for (const o of ops) {
          const at = o.lba * BS;
          switch (o.kind) {
            case "write": {
              const data = new Uint8Array(o.blocks * BS).fill(o.byte);
              const cdb = o.sixteen
                ? [0x8a, 0, ...be(o.lba, 8), ...be(o.blocks, 4), 0, 0]
                : [0x2a, 0, ...be(o.lba, 4), 0, ...be(o.blocks, 2), 0];
              expect((await h.run(cdb, { dataOut: data })).status).toBe(0);
              model.fill(o.byte, at, at + data.length);
              break;
            }
            case "writeSame": {
              const cdb = [0x41, o.unmap ? 0x08 : 0, ...be(o.lba, 4), 0, ...be(o.blocks, 2), 0];
              const r = await h.run(cdb, { dataOut: new Uint8Array(BS).fill(o.byte) });
              expect(r.status).toBe(0);
              model.fill(o.unmap ? 0 : o.byte, at, at + o.blocks * BS);
              break;
            }
            case "unmap": {
              const list = Uint8Array.from([
                0,
                22,
                0,
                16,
                0,
                0,
                0,
                0,
                ...be(o.lba, 8),
                ...be(o.blocks, 4),
                0,
                0,
                0,
                0,
              ]);
              expect((await h.run([0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], { dataOut: list })).status).toBe(0);
              model.fill(0, at, at + o.blocks * BS);
              break;
            }
            case "caw": {
              const expected = o.matches
                ? model.slice(at, at + BS)
                : model.slice(at, at + BS).map((b) => b ^ 1);
              const cdb = [0x89, 0, ...be(o.lba, 8), 0, 0, 0, 1, 0, 0];
              const r = await h.run(cdb, {
                dataOut: Uint8Array.from([...expected, ...new Uint8Array(BS).fill(o.byte)]),
              });
              if (o.matches) {
                expect(r.status).toBe(0);
                model.fill(o.byte, at, at + BS);
              } else {
                expect(senseOf(r)).toMatchObject({ key: 0xe, asc: 0x1d00, info: 0 });
              }
              break;
            }
            case "read": {
              const r = await h.run([0x28, 0, ...be(o.lba, 4), 0, ...be(o.blocks, 2), 0]);
              expect(Buffer.from(r.dataIn!).equals(Buffer.from(model.subarray(at, at + o.blocks * BS)))).toBe(
                true,
              );
              break;
            }
          }
        }
        expect(Buffer.from(h.backend.data).equals(Buffer.from(model))).toBe(true);
        expect(h.backend.open.size).toBe(0);
      }),
      { numRuns: Math.max(20, Math.floor(RUNS / 3)) },
    );
  });
});
