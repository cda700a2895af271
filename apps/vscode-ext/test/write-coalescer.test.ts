import { chunksToRuns, runsToChunks } from "@livesnap/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mergeRuns, type Scheduler, WriteCoalescer } from "../src/events/write-coalescer.js";

/** A manual clock: timers fire only when the test advances time. */
function fakeTime() {
  let now = 0;
  let timers: { at: number; fn: () => void; id: number }[] = [];
  let nextId = 1;
  const scheduler: Scheduler = {
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimeout(h) {
      timers = timers.filter((t) => t.id !== h);
    },
  };
  return {
    scheduler,
    now: () => now,
    advance(ms: number) {
      const until = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((t) => t !== due);
        now = due.at;
        due.fn();
      }
      now = until;
    },
  };
}

describe("mergeRuns", () => {
  it("merges overlapping and adjacent runs", () => {
    expect(
      mergeRuns([
        [10, 2],
        [0, 3],
        [3, 1],
        [11, 5],
        [20, 0],
      ]),
    ).toEqual([
      [0, 4],
      [10, 6],
    ]);
  });

  it("property: same chunk set as the union of the inputs (reference: a Set)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: 500 }), fc.integer({ min: 1, max: 20 })), { maxLength: 40 }),
        (runs) => {
          const expected = new Set(runs.flatMap(([f, c]) => Array.from({ length: c }, (_, i) => f + i)));
          const merged = mergeRuns(runs);
          expect(new Set(runsToChunks(merged))).toEqual(expected);
          expect(merged).toEqual(chunksToRuns(expected));
        },
      ),
    );
  });
});

describe("WriteCoalescer", () => {
  it("emits the first delta at once, then at most one per interval, merged", () => {
    const t = fakeTime();
    const out: [string, number[][]][] = [];
    const c = new WriteCoalescer(100, (v, runs) => out.push([v, runs]), t.scheduler, t.now);
    c.add("vol0", [[5, 1]]);
    t.advance(0);
    expect(out).toEqual([["vol0", [[5, 1]]]]);
    for (let i = 0; i < 50; i++) {
      c.add("vol0", [[i, 1]]);
      t.advance(1);
    }
    expect(out.length).toBe(1);
    t.advance(100);
    expect(out.length).toBe(2);
    expect(out[1]).toEqual(["vol0", [[0, 50]]]);
  });

  it("keeps volumes apart and flushes them together", () => {
    const t = fakeTime();
    const out = new Map<string, number[][]>();
    const c = new WriteCoalescer(100, (v, runs) => out.set(v, runs), t.scheduler, t.now);
    c.add("a", [[1, 1]]);
    c.add("b", [[2, 2]]);
    t.advance(0);
    expect(out).toEqual(
      new Map([
        ["a", [[1, 1]]],
        ["b", [[2, 2]]],
      ]),
    );
  });

  it("property: whatever the timing, every written chunk is emitted, and emissions are spaced", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: 300 }), fc.integer({ min: 1, max: 8 }), fc.nat({ max: 60 })), {
          maxLength: 60,
        }),
        (events) => {
          const t = fakeTime();
          const emitted = new Set<number>();
          const times: number[] = [];
          const c = new WriteCoalescer(
            50,
            (_v, runs) => {
              times.push(t.now());
              for (const ch of runsToChunks(runs)) emitted.add(ch);
            },
            t.scheduler,
            t.now,
          );
          const expected = new Set<number>();
          for (const [first, count, gap] of events) {
            c.add("v", [[first, count]]);
            for (let i = 0; i < count; i++) expected.add(first + i);
            t.advance(gap);
          }
          t.advance(1000);
          expect(emitted).toEqual(expected);
          for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(50);
        },
      ),
    );
  });

  it("collapses a pathological number of runs into one covering run instead of growing", () => {
    const t = fakeTime();
    const out: number[][][] = [];
    const c = new WriteCoalescer(100, (_v, runs) => out.push(runs), t.scheduler, t.now);
    c.add("v", [[0, 1]]);
    t.advance(0);
    const many: [number, number][] = [];
    for (let i = 0; i < WriteCoalescer.MAX_PENDING_RUNS + 10; i++) many.push([i * 2 + 10, 1]);
    c.add("v", many);
    t.advance(100);
    const last = out[out.length - 1]!;
    expect(last.length).toBe(1);
    expect(last[0]![0]).toBe(10);
  });
});
