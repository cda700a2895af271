import { decodeBlockMap, encodeBlockMap } from "@livesnap/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  alphaFor,
  bucketDetail,
  bucketRange,
  buildCellModel,
  classPriority,
  colourVarFor,
  MIN_ALPHA,
  parseClass,
} from "../src/webview/cell-model.js";

const classes = ["unallocated", "shared", "written", "preserved:s1", "preserved:s2"];

function map(rows: number[][], start = 0, chunkSize = 65536) {
  return {
    start,
    end: start + rows.length * 4 * chunkSize,
    chunkSize,
    buckets: rows.length,
    classes,
    counts: Uint32Array.from(rows.flat()),
  };
}

describe("cell model", () => {
  it("parses the engine's class names", () => {
    expect(parseClass("preserved:snap-1")).toMatchObject({ kind: "preserved", snapshot: "snap-1" });
    expect(parseClass("written").kind).toBe("written");
    expect(parseClass("something-new").kind).toBe("other");
  });

  it("a single written chunk in a big bucket still colours the cell, faintly", () => {
    const m = buildCellModel(map([[999_999, 0, 1, 0, 0]]));
    expect(m.classes[m.classOf[0]!]!.kind).toBe("written");
    expect(m.share[0]).toBeCloseTo(1 / 1_000_000);
    expect(alphaFor(m.share[0]!)).toBeCloseTo(MIN_ALPHA, 3);
  });

  it("priority: written > focused snapshot > other snapshots > shared > unallocated", () => {
    const m = buildCellModel(
      map([
        [4, 0, 0, 0, 0],
        [1, 3, 0, 0, 0],
        [0, 1, 0, 2, 1],
        [0, 1, 0, 2, 1],
        [0, 0, 1, 2, 1],
        [0, 0, 0, 0, 0],
      ]),
      "s2",
    );
    const kinds = Array.from(m.classOf, (c) => (c < 0 ? "empty" : m.classes[c]!.name));
    expect(kinds).toEqual(["unallocated", "shared", "preserved:s2", "preserved:s2", "written", "empty"]);
    expect(m.share[1]).toBeCloseTo(3 / 4);
  });

  it("works on a map decoded from the wire (base64 counts)", () => {
    const decoded = decodeBlockMap(encodeBlockMap({ ...map([[0, 2, 2, 0, 0]]), classes: [...classes] }));
    const m = buildCellModel(decoded);
    expect(m.classes[m.classOf[0]!]!.name).toBe("written");
    expect(m.share[0]).toBeCloseTo(0.5);
  });

  it("refuses a counts array that does not match buckets x classes", () => {
    expect(() => buildCellModel({ ...map([[1, 0, 0, 0, 0]]), buckets: 2 })).toThrow(
      /expected 2 buckets x 5 classes/,
    );
  });

  it("colours: theme variables, distinct per snapshot, focused snapshot highlighted", () => {
    const order = ["s1", "s2"];
    const s1 = colourVarFor(parseClass("preserved:s1"), order);
    const s2 = colourVarFor(parseClass("preserved:s2"), order);
    expect(s1).not.toBe(s2);
    expect(colourVarFor(parseClass("preserved:s2"), order, "s2")).toBe("--ls-preserved-focus");
    expect(colourVarFor(parseClass("written"), order)).toBe("--ls-written");
    for (const c of classes) expect(colourVarFor(parseClass(c), order)).toMatch(/^--ls-/);
  });

  it("hover detail: range, first chunk, counts largest first, and which image holds them", () => {
    const m = map([
      [0, 0, 0, 0, 0],
      [1, 2, 0, 1, 0],
    ]);
    const d = bucketDetail(m, 1);
    expect(d.offset).toBe(4 * 65536);
    expect(d.length).toBe(4 * 65536);
    expect(d.firstChunk).toBe(4);
    expect(d.chunkCount).toBe(4);
    expect(d.parts.map((p) => p.name)).toEqual(["shared", "unallocated", "preserved:s1"]);
    expect(d.parts[2]!.holder).toMatch(/s1/);
  });

  it("property: the drawn class is always present in the bucket, and no present class outranks it", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.nat({ max: 5 }), { minLength: 5, maxLength: 5 }), {
          minLength: 1,
          maxLength: 50,
        }),
        fc.constantFrom(undefined, "s1", "s2"),
        (rows, focus) => {
          const m = buildCellModel(map(rows), focus);
          rows.forEach((row, b) => {
            const drawn = m.classOf[b]!;
            if (row.every((n) => n === 0)) {
              expect(drawn).toBe(-1);
              return;
            }
            expect(row[drawn]).toBeGreaterThan(0);
            const p = classPriority(m.classes[drawn]!, focus);
            row.forEach((n, c) => {
              if (n > 0) expect(classPriority(m.classes[c]!, focus)).toBeLessThanOrEqual(p);
            });
            const total = row.reduce((a, n) => a + n, 0);
            expect(m.share[b]).toBeCloseTo(row[drawn]! / total);
          });
        },
      ),
    );
  });

  it("bucket ranges tile [start, end) with no gap or overlap", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 10 ** 9 }),
        (buckets, extra) => {
          const m = {
            start: 4096,
            end: 4096 + buckets + extra,
            chunkSize: 4096,
            buckets,
            classes,
            counts: [],
          };
          let at = m.start;
          for (let b = 0; b < buckets; b++) {
            const r = bucketRange(m, b);
            expect(r.offset).toBe(at);
            at += r.length;
          }
          expect(at).toBe(m.end);
        },
      ),
    );
  });
});
