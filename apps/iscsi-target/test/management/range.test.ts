import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseRange } from "../../src/management/snapshot-data.js";

describe("Range header", () => {
  it("parses the usual forms", () => {
    expect(parseRange(undefined, 100)).toBeUndefined();
    expect(parseRange("bytes=0-9", 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange("bytes=90-", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-10", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-1000", 100)).toEqual({ start: 0, end: 99 });
    expect(parseRange("bytes=50-1000", 100)).toEqual({ start: 50, end: 99 });
    expect(parseRange("bytes=100-", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=5-4", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=-0", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=0-1,5-6", 100)).toBeUndefined(); // multi-range: whole content
    expect(parseRange("items=0-1", 100)).toBeUndefined();
  });

  it("always yields a range inside the content, matching a byte-set model", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 64 }),
        fc.option(fc.integer({ min: 0, max: 80 })),
        fc.option(fc.integer({ min: 0, max: 80 })),
        (size, first, last) => {
          if (first === null && last === null) return;
          const header = `bytes=${first ?? ""}-${last ?? ""}`;
          // Model: the set of offsets the header selects, clipped to the content.
          const selected: number[] = [];
          for (let i = 0; i < size; i++) {
            if (first === null) {
              if (last !== null && i >= size - last) selected.push(i);
            } else if (i >= first && (last === null || i <= last)) selected.push(i);
          }
          const range = parseRange(header, size);
          if (selected.length === 0) expect(range).toBe("unsatisfiable");
          else expect(range).toEqual({ start: selected[0], end: selected[selected.length - 1] });
        },
      ),
    );
  });
});
