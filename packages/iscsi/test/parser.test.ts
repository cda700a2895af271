import { crc32c } from "@livesnap/crc32c";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IscsiProtocolError } from "../src/errors.js";
import { type ParsedPdu, PduParser } from "../src/parser.js";
import { decodeScsiCommand, parseAhs } from "../src/requests.js";
import { bhs, frame } from "./pdu-builders.js";

const limits = { headerDigest: false, dataDigest: false, maxRecvDataSegmentLength: 8192 };

function parseAll(parser: PduParser, chunks: Buffer[]): ParsedPdu[] {
  const out: ParsedPdu[] = [];
  for (const c of chunks) parser.feed(c, (p) => out.push(p));
  return out;
}

function expectProtocolError(fn: () => void, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(IscsiProtocolError);
    expect((e as IscsiProtocolError).code).toBe(code);
    return;
  }
  throw new Error("expected a protocol error");
}

describe("PduParser", () => {
  it("frames a PDU with a padded data segment, split at every byte boundary", () => {
    const data = Buffer.from("hello"); // 5 bytes + 3 padding
    const wire = Buffer.concat([frame(bhs(0x00, 0x80, { 16: 7 }), data), frame(bhs(0x00, 0x80, { 16: 8 }))]);
    for (let cut = 0; cut <= wire.length; cut++) {
      const pdus = parseAll(new PduParser(limits), [wire.subarray(0, cut), wire.subarray(cut)]);
      expect(pdus).toHaveLength(2);
      expect(pdus[0]?.data.toString()).toBe("hello");
      expect(pdus[0]?.bhs.readUInt32BE(16)).toBe(7);
      expect(pdus[1]?.data.length).toBe(0);
      expect(pdus[1]?.bhs.readUInt32BE(16)).toBe(8);
    }
  });

  it("frames many PDUs cut into random chunks; every PDU keeps its bytes after later feeds", () => {
    // Seeded xorshift: reproducible, no dependency.
    let seed = 0x2545f491;
    const rnd = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    for (let round = 0; round < 30; round++) {
      const sent: Buffer[] = [];
      const frames: Buffer[] = [];
      for (let i = 0; i < 40; i++) {
        const data = Buffer.alloc(rnd(3) === 0 ? 0 : rnd(8193));
        for (let j = 0; j < data.length; j++) data[j] = rnd(256);
        sent.push(data);
        frames.push(frame(bhs(0x05, 0x80, { 16: i }), data));
      }
      const wire = Buffer.concat(frames);
      const chunks: Buffer[] = [];
      for (let at = 0; at < wire.length; ) {
        const n = 1 + rnd(rnd(2) === 0 ? 100 : 70000);
        chunks.push(Buffer.from(wire.subarray(at, at + n)));
        at += n;
      }
      const parser = new PduParser(limits);
      const got = parseAll(parser, chunks);
      expect(got).toHaveLength(40);
      got.forEach((p, i) => {
        expect(p.bhs.readUInt32BE(16)).toBe(i);
        expect(p.data.equals(sent[i] as Buffer)).toBe(true);
      });
      expect(parser.bufferedBytes).toBe(0);
    }
  });

  it("feeds byte by byte", () => {
    const wire = frame(bhs(0x04, 0x80), Buffer.from("SendTargets=All\0"));
    const parser = new PduParser(limits);
    const out: ParsedPdu[] = [];
    for (const byte of wire) parser.feed(Buffer.of(byte), (p) => out.push(p));
    expect(out).toHaveLength(1);
    expect(out[0]?.data.toString()).toBe("SendTargets=All\0");
    expect(parser.bufferedBytes).toBe(0);
  });

  it("rejects a data segment longer than MaxRecvDataSegmentLength before buffering it", () => {
    const header = bhs(0x01, 0x80);
    header[5] = 0xff;
    header[6] = 0xff;
    header[7] = 0xff; // 16 MiB - 1 claimed
    const parser = new PduParser(limits);
    expectProtocolError(() => parser.feed(header, () => {}), "bad-length");
  });

  it("accepts exactly MaxRecvDataSegmentLength and rejects one more", () => {
    const ok = frame(bhs(0x05, 0x80), Buffer.alloc(8192));
    expect(parseAll(new PduParser(limits), [ok])).toHaveLength(1);
    const tooLong = frame(bhs(0x05, 0x80), Buffer.alloc(8193));
    expectProtocolError(() => parseAll(new PduParser(limits), [tooLong]), "bad-length");
  });

  it("waits for a truncated header, AHS, data or padding without emitting", () => {
    const wire = frame(bhs(0x01, 0x80), Buffer.alloc(10), Buffer.alloc(8));
    for (const cut of [0, 1, 47, 48, 55, 56, 65, wire.length - 1]) {
      const parser = new PduParser(limits);
      expect(parseAll(parser, [wire.subarray(0, cut)])).toHaveLength(0);
      expect(parser.bufferedBytes).toBe(cut);
    }
  });

  it("checks the header digest before believing the length", () => {
    const header = bhs(0x00, 0x80, { 16: 1 });
    const digest = Buffer.alloc(4);
    digest.writeUInt32LE(crc32c(header));
    const dl = { ...limits, headerDigest: true };
    expect(parseAll(new PduParser(dl), [Buffer.concat([header, digest])])).toHaveLength(1);
    const corrupted = Buffer.from(header);
    corrupted[7] = 4; // length changed after the digest was computed
    expectProtocolError(
      () => parseAll(new PduParser(dl), [Buffer.concat([corrupted, digest])]),
      "header-digest",
    );
  });

  it("flags a bad data digest but keeps framing", () => {
    const data = Buffer.from("abcdef");
    const padded = Buffer.concat([data, Buffer.alloc(2)]);
    const header = bhs(0x05, 0x80);
    header[7] = data.length;
    const good = Buffer.alloc(4);
    good.writeUInt32LE(crc32c(padded));
    const dd = { ...limits, dataDigest: true };
    const wire = Buffer.concat([header, padded, good, header, padded, Buffer.from([1, 2, 3, 4])]);
    const pdus = parseAll(new PduParser(dd), [wire]);
    expect(pdus.map((p) => p.dataDigestError)).toEqual([false, true]);
  });

  it("switches limits between PDUs in the same chunk", () => {
    const first = frame(bhs(0x00, 0x80));
    const second = bhs(0x00, 0x80);
    const digest = Buffer.alloc(4);
    digest.writeUInt32LE(crc32c(second));
    const parser = new PduParser(limits);
    const seen: number[] = [];
    parser.feed(Buffer.concat([first, second, digest]), (p) => {
      seen.push(p.bhs[0] as number);
      parser.setLimits({ headerDigest: true });
    });
    expect(seen).toHaveLength(2);
    expect(parser.bufferedBytes).toBe(0);
  });
});

describe("PduParser.feedTransient (one read buffer reused for every chunk)", () => {
  const digestOf = (b: Buffer) => {
    const d = Buffer.alloc(4);
    d.writeUInt32LE(crc32c(b));
    return d;
  };
  /** A PDU on the wire with optional digests, the way an initiator sends it. */
  const wirePdu = (opcode: number, itt: number, data: Buffer, ahsWords: number, hd: boolean, dd: boolean) => {
    const header = bhs(opcode, 0x80, { 16: itt });
    const framed = frame(header, data, Buffer.alloc(ahsWords * 4, 0x5c));
    const headerLength = 48 + ahsWords * 4;
    const head = framed.subarray(0, headerLength);
    const rest = framed.subarray(headerLength);
    return Buffer.concat([
      head,
      hd ? digestOf(head) : Buffer.alloc(0),
      rest,
      dd && data.length > 0 ? digestOf(rest) : Buffer.alloc(0),
    ]);
  };
  const pduArb = fc.record({
    opcode: fc.constantFrom(0x00, 0x01, 0x04, 0x05),
    data: fc.uint8Array({ maxLength: 9000 }).map((a) => Buffer.from(a)),
    ahsWords: fc.constantFrom(0, 0, 2),
  });

  it("delivers the same PDUs as feed for any cut, and every part a consumer may keep survives reuse", () => {
    fc.assert(
      fc.property(
        fc.array(pduArb, { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 20000 }), { minLength: 1, maxLength: 30 }),
        fc.boolean(),
        fc.boolean(),
        (pdus, cuts, hd, dd) => {
          const dl = { headerDigest: hd, dataDigest: dd, maxRecvDataSegmentLength: 9000 };
          const wire = Buffer.concat(pdus.map((p, i) => wirePdu(p.opcode, i, p.data, p.ahsWords, hd, dd)));
          const readBuffer = Buffer.alloc(20000);
          const parser = new PduParser(dl);
          const got: {
            bhs: Buffer;
            ahs: Buffer;
            data: Buffer;
            bulk: Buffer | undefined;
            digestError: boolean;
          }[] = [];
          let at = 0;
          for (let i = 0; at < wire.length; i++) {
            const n = Math.min(cuts[i % cuts.length] as number, wire.length - at);
            wire.copy(readBuffer, 0, at, at + n);
            at += n;
            parser.feedTransient(readBuffer.subarray(0, n), (p) => {
              const bulk = p.bhs[0] === 0x01 || p.bhs[0] === 0x05;
              // Bulk data is valid now only: copied here, as the session copies it into its task.
              got.push({
                ...p,
                bulk: bulk ? Buffer.from(p.data) : undefined,
                digestError: p.dataDigestError,
              });
            });
            readBuffer.fill(0xaa); // the next read overwrites the buffer
          }
          expect(parser.bufferedBytes).toBe(0);
          expect(got).toHaveLength(pdus.length);
          got.forEach((g, i) => {
            const p = pdus[i] as (typeof pdus)[number];
            expect(g.bhs[0]).toBe(p.opcode);
            expect(g.bhs.readUInt32BE(16)).toBe(i);
            expect(g.ahs.equals(Buffer.alloc(p.ahsWords * 4, 0x5c))).toBe(true);
            expect((g.bulk ?? g.data).equals(p.data)).toBe(true);
            expect(g.digestError).toBe(false);
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it("rejects what feed rejects, wherever the chunk boundary falls", () => {
    const tooLong = frame(bhs(0x05, 0x80), Buffer.alloc(8193));
    for (const cut of [1, 20, 47, 48, 100]) {
      const parser = new PduParser(limits);
      expectProtocolError(() => {
        parser.feedTransient(tooLong.subarray(0, cut), () => {});
        parser.feedTransient(tooLong.subarray(cut), () => {});
      }, "bad-length");
    }
    const header = bhs(0x00, 0x80, { 16: 1 });
    const corrupted = Buffer.concat([header, digestOf(header)]);
    corrupted[7] = 4;
    for (const cut of [10, 48, 51]) {
      const parser = new PduParser({ ...limits, headerDigest: true });
      expectProtocolError(() => {
        parser.feedTransient(corrupted.subarray(0, cut), () => {});
        parser.feedTransient(corrupted.subarray(cut), () => {});
      }, "header-digest");
    }
  });

  it("flags a bad data digest on a PDU completed across chunks", () => {
    const wire = wirePdu(0x05, 3, Buffer.from("abcdef"), 0, false, true);
    wire.writeUInt8((wire.at(-1) as number) ^ 1, wire.length - 1);
    const flags: boolean[] = [];
    const parser = new PduParser({ ...limits, dataDigest: true });
    parser.feedTransient(wire.subarray(0, 50), (p) => flags.push(p.dataDigestError));
    parser.feedTransient(wire.subarray(50), (p) => flags.push(p.dataDigestError));
    expect(flags).toEqual([true]);
  });
});

describe("AHS", () => {
  it("decodes an extended CDB of 32 bytes", () => {
    const cdb = Buffer.alloc(32, 0);
    cdb[0] = 0x7f;
    cdb[31] = 0xaa;
    const ahs = Buffer.alloc(20);
    ahs.writeUInt16BE(32 - 15, 0); // AHSLength = CDB length - 15
    ahs[2] = 1;
    cdb.copy(ahs, 4, 16);
    const header = bhs(0x01, 0x80, { 20: 0, 24: 1 });
    cdb.copy(header, 32, 0, 16);
    const pdu = parseAll(new PduParser(limits), [frame(header, Buffer.alloc(0), ahs)])[0] as ParsedPdu;
    const cmd = decodeScsiCommand(pdu);
    expect(cmd.cdb.length).toBe(32);
    expect(cmd.cdb[31]).toBe(0xaa);
  });

  it("rejects an AHS whose length overruns the AHS area", () => {
    const ahs = Buffer.alloc(8);
    ahs.writeUInt16BE(200, 0);
    ahs[2] = 1;
    expectProtocolError(() => parseAhs(ahs), "bad-length");
  });

  it("rejects a zero-length AHS and a truncated AHS header", () => {
    expectProtocolError(() => parseAhs(Buffer.alloc(4)), "bad-length");
    const twoHs = Buffer.alloc(4);
    twoHs.writeUInt16BE(1, 0);
    twoHs[2] = 2;
    expect(() => parseAhs(twoHs)).not.toThrow();
  });
});
