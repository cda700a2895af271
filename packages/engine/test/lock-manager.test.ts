// The indexed lock manager against a reference that scans every request (lock-model.ts): random
// admits, out-of-order admits (rollback restores), acquires, releases, cancels, reads and
// shutdown, over ranges that share buckets, span many of them, are wide enough to be kept apart,
// or sit past chunk 2^31. After every step both must have granted exactly the same requests.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type LockEntry, LockManager, type ReadHold } from "../src/lock-manager.js";
import { LinearLockModel, type ModelEntry, type ModelRead } from "./lock-model.js";

const BASES = [0, 15, 16, 1000, 2 ** 32 - 40];
// Never empty: the volume refuses zero-length I/O before it reaches the locks.
const LENGTHS = [1, 1, 2, 3, 16, 17, 40, 1100, 5000];

type Op =
  | { k: "admit"; base: number; off: number; len: number }
  | { k: "admitAt"; back: number; base: number; off: number }
  | { k: "acquire"; pick: number }
  | { k: "release"; pick: number }
  | { k: "cancel"; pick: number }
  | { k: "read"; base: number; off: number; len: number }
  | { k: "releaseRead"; pick: number }
  | { k: "failWaiting" };

const base = fc.nat(BASES.length - 1);
const off = fc.nat(40);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 32,
    arbitrary: fc.record({ k: fc.constant("admit" as const), base, off, len: fc.nat(LENGTHS.length - 1) }),
  },
  { weight: 4, arbitrary: fc.record({ k: fc.constant("admitAt" as const), back: fc.nat(20), base, off }) },
  { weight: 24, arbitrary: fc.record({ k: fc.constant("acquire" as const), pick: fc.nat() }) },
  { weight: 20, arbitrary: fc.record({ k: fc.constant("release" as const), pick: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant("cancel" as const), pick: fc.nat() }) },
  {
    weight: 12,
    arbitrary: fc.record({ k: fc.constant("read" as const), base, off, len: fc.nat(LENGTHS.length - 1) }),
  },
  { weight: 12, arbitrary: fc.record({ k: fc.constant("releaseRead" as const), pick: fc.nat() }) },
  // Rare: it clears every queue, and deep queues are what the index is for.
  { weight: 1, arbitrary: fc.constant({ k: "failWaiting" as const }) },
);

interface Write {
  real: LockEntry;
  model: ModelEntry;
}
interface Read {
  real: { hold: ReadHold | null; failed: boolean };
  model: ModelRead;
  released: boolean;
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function run(ops: Op[], index?: { listMax: number; listMin: number }): Promise<void> {
  const lm = new LockManager(index);
  const model = new LinearLockModel();
  const writes: Write[] = [];
  const reads: Read[] = [];
  let seq = 1;
  let restores = 0;
  const at = (b: number, o: number): number => (BASES[b] as number) + o;
  for (const op of ops) {
    const live = writes.filter((w) => !w.model.done);
    const pickWrite = (i: number, ok: (w: Write) => boolean): Write | undefined => {
      const c = live.filter(ok);
      return c.length ? c[i % c.length] : undefined;
    };
    switch (op.k) {
      case "admit": {
        const lo = at(op.base, op.off);
        const hi = lo + (LENGTHS[op.len] as number);
        writes.push({ real: lm.admit(seq, lo, hi), model: model.admit(seq, lo, hi) });
        seq++;
        break;
      }
      case "admitAt": {
        // An older, unique stamp (restores of one rollback share a stamp but never a chunk).
        const s = Math.max(0, seq - 1 - op.back) + ++restores / 1e6;
        const c = at(op.base, op.off);
        writes.push({ real: lm.admitAt(s, c), model: model.admitAt(s, c) });
        break;
      }
      case "acquire": {
        const w = pickWrite(op.pick, (x) => !x.model.ready);
        if (!w) break;
        lm.acquireWrite(w.real).catch(() => undefined);
        model.acquireWrite(w.model);
        break;
      }
      case "release": {
        const w = pickWrite(op.pick, (x) => x.model.granted);
        if (!w) break;
        lm.releaseWrite(w.real);
        model.releaseWrite(w.model);
        break;
      }
      case "cancel": {
        const w = pickWrite(op.pick, (x) => !x.model.granted);
        if (!w) break;
        lm.cancel(w.real);
        model.cancel(w.model);
        break;
      }
      case "read": {
        const lo = at(op.base, op.off);
        const hi = lo + (LENGTHS[op.len] as number);
        const real: Read["real"] = { hold: null, failed: false };
        lm.acquireRead(lo, hi).then(
          (h) => {
            real.hold = h;
          },
          () => {
            real.failed = true;
          },
        );
        reads.push({ real, model: model.acquireRead(lo, hi), released: false });
        break;
      }
      case "releaseRead": {
        const held = reads.filter((r) => r.model.granted && !r.released);
        const r = held[op.pick % Math.max(1, held.length)];
        if (!r?.real.hold) break;
        r.released = true;
        lm.releaseRead(r.real.hold);
        model.releaseRead(r.model);
        break;
      }
      case "failWaiting":
        lm.failWaiting(new Error("closed"));
        model.failWaiting();
        break;
    }
    await flush(); // read grants and failures arrive as promise settlements
    for (const [i, w] of writes.entries()) {
      expect({ i, granted: w.real.granted, done: w.real.done }).toEqual({
        i,
        granted: w.model.granted,
        done: w.model.done,
      });
    }
    for (const [i, r] of reads.entries()) {
      expect({ i, granted: r.real.hold !== null, failed: r.real.failed }).toEqual({
        i,
        granted: r.model.granted,
        failed: r.model.failed,
      });
    }
    expect(lm.activeWrites).toBe(model.activeWrites);
  }
}

describe("lock manager: range index", () => {
  it("grants exactly what a scan of every request grants", async () => {
    // The index's list/bucket switch-over points shrunk, so runs cross them both ways.
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 200, size: "max" }),
        fc.nat(6),
        (ops, listMax) => run(ops, { listMax, listMin: Math.floor(listMax / 2) }),
      ),
      { numRuns: 100 },
    );
  });

  it("a write waits for an earlier overlapping write filed in another bucket, and for a wide one", async () => {
    const lm = new LockManager();
    const wide = lm.admit(1, 0, 1 << 20); // 2^20 chunks: kept apart from the buckets
    const spanning = lm.admit(2, 10, 40); // buckets 0-2
    const later = lm.admit(3, 35, 36);
    const order: string[] = [];
    void lm.acquireWrite(later).then(() => order.push("later"));
    void lm.acquireWrite(spanning).then(() => order.push("spanning"));
    await lm.acquireWrite(wide);
    order.push("wide");
    await flush();
    expect(order).toEqual(["wide"]);
    lm.releaseWrite(wide);
    await flush();
    expect(order).toEqual(["wide", "spanning"]);
    lm.releaseWrite(spanning);
    await flush();
    expect(order).toEqual(["wide", "spanning", "later"]);
  });
});
