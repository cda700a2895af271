import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BlockMap,
  base64ToBytes,
  bucketCount,
  bytesToBase64,
  chunksToRuns,
  decodeBlockMap,
  decodeCounts,
  encodeBlockMap,
  encodeCounts,
  runsToChunks,
} from "../src/index.js";

describe("base64", () => {
  it("matches Buffer's encoding and round-trips any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = bytesToBase64(bytes);
        expect(text).toBe(Buffer.from(bytes).toString("base64"));
        expect(base64ToBytes(text)).toEqual(bytes);
      }),
    );
  });

  it("rejects malformed text", () => {
    expect(() => base64ToBytes("abc")).toThrow(/multiple of 4/);
    expect(() => base64ToBytes("ab!d")).toThrow(/invalid character at 2/);
    expect(() => base64ToBytes("a=bc")).toThrow(/invalid character/);
  });
});

describe("block map counts", () => {
  it("round-trip as little-endian u32", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 200 }), (values) => {
        const counts = Uint32Array.from(values);
        const text = encodeCounts(counts);
        expect(decodeCounts(text)).toEqual(counts);
        const bytes = Buffer.from(text, "base64");
        values.forEach((v, i) => {
          expect(bytes.readUInt32LE(i * 4)).toBe(v);
        });
      }),
    );
  });

  it("a whole map round-trips and validates", () => {
    const classes = ["unallocated", "shared", "preserved:s1"];
    const counts = Uint32Array.from([1, 2, 3, 4, 5, 6]);
    const wire = encodeBlockMap({ start: 0, end: 8192, chunkSize: 4096, buckets: 2, classes, counts });
    const parsed = BlockMap.parse(JSON.parse(JSON.stringify(wire)));
    const decoded = decodeBlockMap(parsed);
    expect(decoded.counts).toEqual(counts);
    expect(bucketCount(decoded, 1, "shared")).toBe(5);
    expect(bucketCount(decoded, 0, "preserved:s1")).toBe(3);
    expect(bucketCount(decoded, 0, "written")).toBe(0);
  });

  it("rejects counts whose size does not match buckets × classes", () => {
    const wire = encodeBlockMap({
      start: 0,
      end: 8192,
      chunkSize: 4096,
      buckets: 3,
      classes: ["unallocated", "shared"],
      counts: new Uint32Array(4),
    });
    const result = BlockMap.safeParse(wire);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(["counts"]);
    expect(result.error?.issues[0]?.message).toMatch(/expected 24 bytes/);
  });
});

describe("chunk runs", () => {
  it("merge any chunk set into sorted maximal runs and expand back", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 300 }), (chunks) => {
        const runs = chunksToRuns(chunks);
        expect(runsToChunks(runs)).toEqual([...new Set(chunks)].sort((a, b) => a - b));
        for (let i = 1; i < runs.length; i++) {
          const [prevFirst, prevCount] = runs[i - 1]!;
          expect(runs[i]![0]).toBeGreaterThan(prevFirst + prevCount); // maximal: a gap between runs
        }
      }),
    );
  });
});
