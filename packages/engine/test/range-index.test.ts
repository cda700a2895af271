// The range index against a plain list: random adds and deletes of ranges that share buckets,
// span several, are wide enough to be kept apart or sit past chunk 2^31, with the list/bucket
// switch-over points shrunk so every run crosses them in both directions.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ChunkRange, RangeIndex } from "../src/range-index.js";

const BASES = [0, 15, 16, 31, 1000, 2 ** 31 - 8, 2 ** 32 - 40];
const LENGTHS = [1, 1, 2, 3, 16, 17, 33, 1100, 5000];

interface Item extends ChunkRange {
  id: number;
}

type Op =
  | { k: "add"; base: number; off: number; len: number }
  | { k: "delete"; pick: number }
  | { k: "query"; base: number; off: number; len: number; stopAt: number };

const range = { base: fc.nat(BASES.length - 1), off: fc.nat(40), len: fc.nat(LENGTHS.length - 1) };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant("add" as const), ...range }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("delete" as const), pick: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant("query" as const), ...range, stopAt: fc.nat(3) }) },
);

const overlaps = (a: ChunkRange, lo: number, hi: number): boolean => a.lo < hi && lo < a.hi;
const ids = (xs: Item[]): number[] => xs.map((x) => x.id).sort((a, b) => a - b);

describe("range index", () => {
  it("finds exactly the ranges a scan of a plain list finds", () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 1, maxLength: 200, size: "max" }),
        fc.nat(6),
        (ops, listMax) => {
          const index = new RangeIndex<Item>(listMax, Math.floor(listMax / 2));
          let held: Item[] = [];
          let next = 0;
          for (const op of ops) {
            if (op.k === "add") {
              const lo = (BASES[op.base] as number) + op.off;
              const item = { id: next++, lo, hi: lo + (LENGTHS[op.len] as number) };
              held.push(item);
              index.add(item);
            } else if (op.k === "delete") {
              const item = held[op.pick % Math.max(1, held.length)];
              if (!item) continue;
              held = held.filter((x) => x !== item);
              index.delete(item);
            } else {
              const lo = (BASES[op.base] as number) + op.off;
              const hi = lo + (LENGTHS[op.len] as number);
              const want = held.filter((x) => overlaps(x, lo, hi));
              const got = index.overlapping(lo, hi);
              expect(got.length).toBe(new Set(got).size); // each once
              expect(ids(got)).toEqual(ids(want));
              // find stops at the first range the predicate accepts, and only visits overlapping ones.
              const found = index.find(lo, hi, (x, min: number) => x.id % 4 === min, op.stopAt);
              if (found) expect(overlaps(found, lo, hi) && found.id % 4 === op.stopAt).toBe(true);
              else expect(want.some((x) => x.id % 4 === op.stopAt)).toBe(false);
            }
            expect(index.size).toBe(held.length);
            expect(ids(index.values())).toEqual(ids(held));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
