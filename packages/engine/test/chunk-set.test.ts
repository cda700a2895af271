// ChunkSet against a plain Set: membership, counts over ranges, order, list<->bitmap switches.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChunkSet, REGION_CHUNKS } from "../src/chunk-set.js";

describe("ChunkSet", () => {
  it("behaves like a Set with range counts", () => {
    const chunk = fc.oneof(
      fc.nat(3 * REGION_CHUNKS),
      fc.nat(2 ** 32).map((x) => x * 7),
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ add: fc.boolean(), c: chunk }), { maxLength: 400 }),
        fc.array(fc.tuple(fc.nat(4 * REGION_CHUNKS), fc.nat(4 * REGION_CHUNKS)), { maxLength: 10 }),
        (ops, ranges) => {
          const set = new ChunkSet();
          const ref = new Set<number>();
          for (const { add, c } of ops) {
            expect(add ? set.add(c) : set.delete(c)).toBe(add ? !ref.has(c) : ref.has(c));
            if (add) ref.add(c);
            else ref.delete(c);
          }
          expect(set.size).toBe(ref.size);
          expect([...set.sorted()]).toEqual([...ref].sort((a, b) => a - b));
          for (const c of ref) expect(set.has(c)).toBe(true);
          for (const [a, b] of ranges) {
            const lo = Math.min(a, b);
            const hi = Math.max(a, b);
            expect(set.countRange(lo, hi)).toBe([...ref].filter((c) => c >= lo && c < hi).length);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
