// Record versions: cow records are written at version 2 (CRC-32 of each copy) and version-1 cow
// records (CRC32C of each copy, written by earlier releases) still decode, marked as such.
import { crc32 } from "node:zlib";
import { crc32c } from "@livesnap/crc32c";
import { describe, expect, it } from "vitest";
import {
  COW_RECORD_VERSION,
  copyChecksum,
  decodeRecords,
  encodeRecord,
  RecordFormatError,
} from "../src/records.js";
import { pattern } from "./helpers.js";

/** Re-stamps an encoded record with another version byte (and a matching record CRC32C). */
function withVersion(encoded: Uint8Array, version: number): Buffer {
  const b = Buffer.from(encoded);
  b[9] = version;
  b.writeUInt32LE(crc32c(b.subarray(8)), 4);
  return b;
}

describe("record versions", () => {
  const copy = pattern(3, 4096);
  const cow = {
    type: "cow" as const,
    volKey: 1,
    snapKey: 2,
    chunks: [5, 9],
    slots: [0, -1],
    crcs: [copyChecksum(copy), 0],
  };

  it("writes cow records at version 2 with CRC-32 copy checksums", () => {
    expect(copyChecksum(copy)).toBe(crc32(copy));
    expect(copyChecksum(copy)).not.toBe(crc32c(copy));
    const enc = encodeRecord(cow);
    expect(enc[9]).toBe(COW_RECORD_VERSION);
    const [rec] = decodeRecords(Buffer.from(enc)).records;
    expect(rec).toEqual(cow);
  });

  it("reads version-1 cow records and marks their checksums as CRC32C", () => {
    const v1 = withVersion(encodeRecord({ ...cow, crcs: [crc32c(copy), 0] }), 1);
    const [rec] = decodeRecords(v1).records;
    expect(rec).toEqual({ ...cow, crcs: [crc32c(copy), 0], crc32cCopies: true });
  });

  it("refuses unknown versions instead of treating them as torn", () => {
    expect(() => decodeRecords(withVersion(encodeRecord(cow), 3))).toThrow(RecordFormatError);
    expect(() => decodeRecords(withVersion(encodeRecord({ type: "round" }), 2))).toThrow(RecordFormatError);
  });
});

describe("atomic write journal records", () => {
  const write = {
    type: "atomic-write" as const,
    volKey: 3,
    seq: 2 ** 40 + 7,
    offset: 3 * 512,
    data: pattern(4, 9000),
  };
  const retire = { type: "atomic-retire" as const, volKey: 3, seqs: [2 ** 40 + 7, 12] };

  it("round-trip, data included", () => {
    const buf = Buffer.concat([encodeRecord(write), encodeRecord(retire)]);
    expect(decodeRecords(buf).records).toEqual([write, retire]);
  });

  it("a journal entry torn anywhere in its data ends the log there", () => {
    const enc = Buffer.from(encodeRecord(write));
    for (const cut of [enc.length - 1, 8 + 20 + 4096, 30]) {
      const { records, validBytes } = decodeRecords(enc.subarray(0, cut));
      expect(records).toEqual([]);
      expect(validBytes).toBe(0);
    }
    const flipped = Buffer.from(enc);
    flipped.writeUInt8(flipped.readUInt8(enc.length - 100) ^ 1, enc.length - 100);
    expect(decodeRecords(flipped).records).toEqual([]);
  });
});
