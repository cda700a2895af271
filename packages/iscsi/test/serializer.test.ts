import { crc32c } from "@livesnap/crc32c";
import { describe, expect, it } from "vitest";
import { decodeLun, encodeLun, snAdd, snLessThan, UNADDRESSABLE_LUN } from "../src/buffer-io.js";
import { type ParsedPdu, PduParser } from "../src/parser.js";
import { LOGIN_MAX_DATA_SEGMENT } from "../src/pdu.js";
import { decodeScsiCommand, parseAhs } from "../src/requests.js";
import {
  encodeDataIn,
  encodeReject,
  encodeScsiResponse,
  encodeTextResponse,
  NO_RESIDUAL,
  serializePdu,
} from "../src/serializer.js";
import { bhs, frame } from "./pdu-builders.js";

const sn = { statSN: 7, expCmdSN: 10, maxCmdSN: 41 };

describe("serializer", () => {
  it("lays out a Data-In with status, residual, padding and both digests", () => {
    const data = Buffer.from([1, 2, 3, 4, 5]);
    const pdu = encodeDataIn({
      final: true,
      statusPresent: true,
      status: 0,
      residual: { overflow: false, underflow: true, count: 3 },
      lun: 2,
      itt: 0xabcd,
      ...sn,
      dataSN: 4,
      bufferOffset: 8192,
      data,
    });
    const wire = Buffer.concat(serializePdu(pdu, { headerDigest: true, dataDigest: true }));
    expect(wire.length).toBe(48 + 4 + 8 + 4);
    expect(wire[0]).toBe(0x25);
    expect(wire[1]).toBe(0x80 | 0x02 | 0x01);
    expect(wire.readUIntBE(5, 3)).toBe(5);
    expect(wire[9]).toBe(2);
    expect(wire.readUInt32BE(16)).toBe(0xabcd);
    expect(wire.readUInt32BE(20)).toBe(0xffffffff);
    expect(wire.readUInt32BE(24)).toBe(7);
    expect(wire.readUInt32BE(36)).toBe(4);
    expect(wire.readUInt32BE(40)).toBe(8192);
    expect(wire.readUInt32BE(44)).toBe(3);
    // Header digest over the 48 bytes, little-endian on the wire.
    expect(wire.readUInt32LE(48)).toBe(crc32c(wire.subarray(0, 48)));
    // Data digest covers the data and its 3 padding bytes.
    expect(wire.subarray(57, 60)).toEqual(Buffer.alloc(3));
    expect(wire.readUInt32LE(60)).toBe(crc32c(wire.subarray(52, 60)));
  });

  it("round-trips through the parser with digests on", () => {
    const pdus = [
      encodeTextResponse({
        final: true,
        continue: false,
        lun: 0,
        itt: 1,
        ttt: 0xffffffff,
        data: Buffer.from("A=B\0"),
        ...sn,
      }),
      encodeScsiResponse({
        itt: 2,
        response: 0,
        status: 2,
        residual: NO_RESIDUAL,
        expDataSN: 0,
        sense: Uint8Array.of(0x70, 0, 5),
        ...sn,
      }),
      encodeReject({ reason: 4, rejectedBhs: Buffer.alloc(48, 0x11), ...sn }),
    ];
    const digests = { headerDigest: true, dataDigest: true };
    const wire = Buffer.concat(pdus.flatMap((p) => serializePdu(p, digests)));
    const out: ParsedPdu[] = [];
    new PduParser({ ...digests, maxRecvDataSegmentLength: 8192 }).feed(wire, (p) => out.push(p));
    expect(out.map((p) => p.bhs[0])).toEqual([0x24, 0x21, 0x3f]);
    expect(out.every((p) => !p.dataDigestError)).toBe(true);
    expect(out[1]?.data.readUInt16BE(0)).toBe(3); // SenseLength prefix
    expect(out[2]?.data).toEqual(Buffer.alloc(48, 0x11));
  });

  it("sends no data digest for an empty data segment", () => {
    const pdu = encodeScsiResponse({
      itt: 1,
      response: 0,
      status: 0,
      residual: NO_RESIDUAL,
      expDataSN: 0,
      ...sn,
    });
    expect(Buffer.concat(serializePdu(pdu, { headerDigest: true, dataDigest: true })).length).toBe(52);
  });
});

describe("malformed lengths", () => {
  const limits = { headerDigest: false, dataDigest: false, maxRecvDataSegmentLength: LOGIN_MAX_DATA_SEGMENT };

  it("frames the largest AHS area (255 words) with a header digest", () => {
    const h = bhs(0x01, 0x80);
    h[4] = 255;
    const ahs = Buffer.alloc(1020);
    const header = Buffer.concat([h, ahs]);
    const digest = Buffer.alloc(4);
    digest.writeUInt32LE(crc32c(header));
    const out: ParsedPdu[] = [];
    new PduParser({ ...limits, headerDigest: true }).feed(Buffer.concat([header, digest]), (p) =>
      out.push(p),
    );
    expect(out[0]?.ahs.length).toBe(1020);
  });

  it("caps login data at 8192 bytes whatever the PDU claims", () => {
    const ok: ParsedPdu[] = [];
    new PduParser(limits).feed(frame(bhs(0x43, 0x87), Buffer.alloc(8192)), (p) => ok.push(p));
    expect(ok).toHaveLength(1);
    expect(() => new PduParser(limits).feed(frame(bhs(0x43, 0x87), Buffer.alloc(8196)), () => {})).toThrow(
      /exceeds MaxRecvDataSegmentLength/,
    );
  });

  it("rejects a short bidirectional-length AHS and a second AHS that overruns", () => {
    const bidi = Buffer.alloc(4);
    bidi.writeUInt16BE(1, 0);
    bidi[2] = 2;
    const h = bhs(0x01, 0x80);
    expect(() => decodeScsiCommand({ bhs: h, ahs: bidi, data: Buffer.alloc(0) })).toThrow(
      /short bidirectional/,
    );
    const two = Buffer.alloc(12);
    two.writeUInt16BE(1, 0);
    two[2] = 2;
    two.writeUInt16BE(60, 4);
    two[6] = 1;
    expect(() => parseAhs(two)).toThrow(/overruns/);
  });
});

describe("LUN and serial numbers", () => {
  it("encodes and decodes peripheral and flat LUNs; other methods are unaddressable", () => {
    const b = Buffer.alloc(8);
    for (const lun of [0, 1, 255, 256, 16383]) {
      encodeLun(b, 0, lun);
      expect(decodeLun(b, 0)).toBe(lun);
    }
    b.fill(0);
    b[0] = 0x80; // logical unit addressing
    expect(decodeLun(b, 0)).toBe(UNADDRESSABLE_LUN);
    b.fill(0);
    b[5] = 1; // second level
    expect(decodeLun(b, 0)).toBe(UNADDRESSABLE_LUN);
  });

  it("compares sequence numbers across the 2^32 wrap", () => {
    expect(snLessThan(0xfffffffe, 1)).toBe(true);
    expect(snLessThan(1, 0xfffffffe)).toBe(false);
    expect(snLessThan(5, 5)).toBe(false);
    expect(snAdd(0xffffffff, 2)).toBe(1);
  });
});
