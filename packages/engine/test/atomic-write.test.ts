// WRITE ATOMIC: all or nothing for concurrent readers and across a crash. The crash test replays
// every crash point of a workload of atomic overwrites (each spanning several chunks, COW into a
// snapshot first) with unsynced writes dropped or torn, and checks each write's bytes are wholly
// old or wholly new (new once durable: acknowledged with FUA, or flushed after write-back). The same workload with plain FUA writes must show a
// torn write in some crash state: that is what the journal prevents, and what proves the check.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EngineError, MAX_ATOMIC_WRITE_BYTES, openPool } from "../src/index.js";
import { firstDiff, pattern, prng, withTempDir } from "./helpers.js";
import { HookedStorage, sleep } from "./hooked-storage.js";
import { materializeCrash, RecordingStorage, type StorageOp } from "./recording-storage.js";

const SIZE = 256 * 1024;
const BS = 512;
const REGION = 32 * 1024;

interface AtomicWorkload {
  ops: StorageOp[];
  /** Acknowledged means durable. */
  fua: boolean;
  base: Buffer;
  writes: { id: number; offset: number; data: Buffer }[];
}

/** How the workload writes: atomic with FUA, atomic write-back (flushed now and then), plain FUA. */
type Mode = "atomic-fua" | "atomic-back" | "plain-fua";

/** A recorded pool with volume "v" filled with a seeded pattern and flushed. */
async function recordedVolume(dir: string, seed: number) {
  const storage = new RecordingStorage(dir);
  // Small checkpoints: journal entries are carried across log rotations inside the window.
  const pool = await openPool({ dir, chunkSize: 4096, storage, checkpointBytes: 40 * 1024 });
  const vol = await pool.createVolume("v", { sizeBytes: SIZE, blockSize: BS });
  const base = pattern(seed * 1000, SIZE);
  await vol.write(vol.admit(0, SIZE), base);
  await vol.flush();
  return { storage, pool, vol, base };
}

/** One overwrite per 32 KiB region (4-32 KiB, any 512-byte offset inside it), a few at a time. */
async function runOverwrites(dir: string, seed: number, mode: Mode): Promise<AtomicWorkload> {
  const rand = prng(seed);
  const { storage, pool, vol, base } = await recordedVolume(dir, seed);
  await vol.createSnapshot("before");
  storage.mark("ready", 0);
  const writes: AtomicWorkload["writes"] = [];
  const regions = Array.from({ length: SIZE / REGION }, (_, r) => r).sort(() => rand() - 0.5);
  while (regions.length > 0) {
    const batch = regions.splice(0, 1 + Math.floor(rand() * 3));
    await Promise.all(
      batch.map(async (r) => {
        const len = (8 + Math.floor(rand() * 56)) * BS;
        const offset = r * REGION + Math.floor(rand() * ((REGION - len) / BS + 1)) * BS;
        const id = writes.length + 1;
        const data = pattern(seed * 1000 + id, len);
        writes.push({ id, offset, data });
        const t = vol.admit(offset, len);
        await (mode === "plain-fua"
          ? vol.write(t, data, { fua: true })
          : vol.writeAtomic(t, data, { fua: mode === "atomic-fua" }));
        storage.mark("ack", id);
      }),
    );
    if (mode === "atomic-back" && rand() < 0.5) {
      await vol.flush();
      storage.mark("flush-done", writes.length);
    }
  }
  await pool.close();
  return { ops: storage.ops, fua: mode !== "atomic-back", base, writes };
}

/** Recovers crash state k; returns the writes found torn. Throws if an atomic guarantee broke otherwise. */
async function tornWritesAt(
  w: AtomicWorkload,
  k: number,
  rand: () => number,
  dir: string,
): Promise<number[]> {
  await materializeCrash(w.ops, k, rand, dir);
  // Durable once acknowledged (FUA), or once a flush completed after the acknowledgement.
  const acked = new Set<number>();
  const durable = new Set<number>();
  for (const op of w.ops.slice(0, k)) {
    if (op.kind !== "mark") continue;
    if (op.what === "ack") acked.add(op.id);
    if (op.what === "flush-done" || (op.what === "ack" && w.fua)) for (const id of acked) durable.add(id);
  }
  const pool = await openPool({ dir, chunkSize: 4096 });
  try {
    const vol = pool.getVolume("v");
    const live = await vol.read(0, SIZE);
    const snap = await vol.getSnapshot("before").read(0, SIZE);
    expect(firstDiff(snap, w.base), `snapshot at crash point ${k}`).toBe(-1);
    const torn: number[] = [];
    for (const x of w.writes) {
      const now = live.subarray(x.offset, x.offset + x.data.length);
      const isNew = now.equals(x.data);
      const isOld = now.equals(w.base.subarray(x.offset, x.offset + x.data.length));
      if (durable.has(x.id)) expect(isNew, `durable write ${x.id} at crash point ${k}`).toBe(true);
      if (!isNew && !isOld) torn.push(x.id);
    }
    return torn;
  } finally {
    await pool.close();
  }
}

function crashPoints(w: { ops: StorageOp[] }): number[] {
  const ready = w.ops.findIndex((op) => op.kind === "mark" && op.what === "ready");
  return Array.from({ length: w.ops.length - ready }, (_, i) => ready + 1 + i);
}

describe("atomic writes across a crash", () => {
  for (const [seed, mode] of [
    [1, "atomic-fua"],
    [3, "atomic-back"],
  ] as const) {
    it(`seed ${seed}, ${mode}: every crash point leaves each write wholly old or wholly new`, async () => {
      await withTempDir(async (dir) => {
        const w = await runOverwrites(join(dir, "live"), seed, mode);
        const rand = prng(seed * 31 + 7);
        let states = 0;
        for (const k of crashPoints(w)) {
          // Two draws of dropped/torn writes per crash point.
          for (let n = 0; n < 2; n++) {
            const torn = await tornWritesAt(w, k, rand, join(dir, `crash-${k}-${n}`));
            expect(torn, `crash point ${k}: torn atomic writes`).toEqual([]);
            states++;
          }
        }
        expect(states).toBeGreaterThan(50);
      });
    });
  }

  it("a plain write after an atomic one over the same bytes is never undone by recovery's replay", async () => {
    await withTempDir(async (dir) => {
      const w = await runOverwritten(join(dir, "live"), 5);
      const rand = prng(5 * 31 + 7);
      let checked = 0;
      for (const k of crashPoints(w)) {
        await materializeCrash(w.ops, k, rand, join(dir, `crash-${k}`));
        const acked = new Set<number>();
        for (const op of w.ops.slice(0, k)) if (op.kind === "mark" && op.what === "ack") acked.add(op.id);
        const pool = await openPool({ dir: join(dir, `crash-${k}`), chunkSize: 4096 });
        try {
          const live = await pool.getVolume("v").read(0, SIZE);
          for (const p of w.pairs) {
            const at = (x: { offset: number; data: Buffer }) =>
              live.subarray(x.offset, x.offset + x.data.length);
            if (acked.has(p.plainId)) {
              expect(at(p.plain).equals(p.plain.data), `plain write ${p.plainId} at crash point ${k}`).toBe(
                true,
              );
              checked++;
            }
            if (acked.has(p.atomicId)) {
              // Durable whole. The plain write's bytes may hold its data (in flight or durable).
              const a = Buffer.from(at(p.atomic));
              const expected = Buffer.from(p.atomic.data);
              p.plain.data.copy(a, p.plain.offset - p.atomic.offset);
              p.plain.data.copy(expected, p.plain.offset - p.atomic.offset);
              expect(a.equals(expected), `atomic write ${p.atomicId} at crash point ${k}`).toBe(true);
            }
          }
        } finally {
          await pool.close();
        }
      }
      expect(checked).toBeGreaterThan(10);
    });
  });

  it("the same workload with plain FUA writes tears some of them (the check can fail)", async () => {
    await withTempDir(async (dir) => {
      const w = await runOverwrites(join(dir, "live"), 1, "plain-fua");
      const rand = prng(99);
      let tornStates = 0;
      for (const k of crashPoints(w)) {
        for (let n = 0; n < 2; n++) {
          if ((await tornWritesAt(w, k, rand, join(dir, `crash-${k}-${n}`))).length > 0) tornStates++;
        }
      }
      expect(tornStates).toBeGreaterThan(0);
    });
  });
});

interface OverwrittenPair {
  atomicId: number;
  atomic: { offset: number; data: Buffer };
  plainId: number;
  plain: { offset: number; data: Buffer };
}

/**
 * Atomic FUA writes, each followed at once by a plain FUA write over part of it (admitted after
 * it, so it waits for the atomic write's chunks). The atomic write is acknowledged once journalled
 * and retired later: recovery must never replay it over the plain write once that was durable.
 * The plain FUA write does not wait for a journalled atomic write's tail (durable already): the
 * chunks it holds until the retire is durable are all that keeps the replay out. Releasing them
 * at the origin sync fails this test.
 */
async function runOverwritten(
  dir: string,
  seed: number,
): Promise<{ ops: StorageOp[]; pairs: OverwrittenPair[] }> {
  const rand = prng(seed);
  const { storage, pool, vol } = await recordedVolume(dir, seed);
  storage.mark("ready", 0);
  // Slow log writes: a retire lags the origin sync, so a plain write released too early would
  // reach the disk before the retire (the window recovery's replay must not fall into).
  storage.beforeWrite = (name) => (name.startsWith("log-") ? sleep(5) : undefined);
  const pairs: OverwrittenPair[] = [];
  for (let r = 0; r < 6; r++) {
    const len = (16 + Math.floor(rand() * 48)) * BS;
    const offset = r * REGION + Math.floor(rand() * ((REGION - len) / BS + 1)) * BS;
    const plainLen = (1 + Math.floor(rand() * 8)) * BS;
    const plainOffset = offset + Math.floor(rand() * ((len - plainLen) / BS + 1)) * BS;
    const atomic = { offset, data: pattern(seed * 1000 + 2 * r + 1, len) };
    const plain = { offset: plainOffset, data: pattern(seed * 1000 + 2 * r + 2, plainLen) };
    const pair = { atomicId: 2 * r + 1, atomic, plainId: 2 * r + 2, plain };
    pairs.push(pair);
    await vol.writeAtomic(vol.admit(offset, len), atomic.data, { fua: true });
    storage.mark("ack", pair.atomicId);
    await vol.write(vol.admit(plainOffset, plainLen), plain.data, { fua: true });
    storage.mark("ack", pair.plainId);
  }
  await pool.close();
  return { ops: storage.ops, pairs };
}

describe("atomic writes", () => {
  it("land whole, are durable when they resolve, and survive a reopen", async () => {
    await withTempDir(async (dir) => {
      let pool = await openPool({ dir, chunkSize: 4096 });
      const vol = pool.getVolume.bind(pool);
      await pool.createVolume("v", { sizeBytes: 1 << 20, blockSize: 512 });
      const data = pattern(7, 40 * 1024);
      await vol("v").writeAtomic(vol("v").admit(3 * 512, data.length), data, { fua: true });
      expect((await vol("v").read(3 * 512, data.length)).equals(data)).toBe(true);
      await pool.close();
      pool = await openPool({ dir, chunkSize: 4096 });
      expect((await pool.getVolume("v").read(3 * 512, data.length)).equals(data)).toBe(true);
      await pool.close();
    });
  });

  it("refuse a wrong length or one over the maximum, and free the ticket's chunks", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: 4096 });
      const v = await pool.createVolume("v", { sizeBytes: 4 << 20, blockSize: 512 });
      const t1 = v.admit(0, 8192);
      await expect(v.writeAtomic(t1, Buffer.alloc(4096))).rejects.toThrow(EngineError);
      const big = MAX_ATOMIC_WRITE_BYTES + 4096;
      const t2 = v.admit(0, big);
      await expect(v.writeAtomic(t2, Buffer.alloc(big))).rejects.toThrow(/at most/);
      // Neither ticket wedges the chunks it had queued on.
      const data = pattern(1, 8192);
      await v.write(v.admit(0, 8192), data);
      expect((await v.read(0, 8192)).equals(data)).toBe(true);
      await pool.close();
    });
  });

  it("readers racing a slow atomic write see all of it or none of it", async () => {
    await withTempDir(async (dir) => {
      const storage = new HookedStorage(dir, {});
      const pool = await openPool({ dir, chunkSize: 4096, storage });
      const v = await pool.createVolume("v", { sizeBytes: 1 << 20, blockSize: 512 });
      const old = pattern(1, 64 * 1024);
      await v.write(v.admit(0, old.length), old);
      const fresh = pattern(2, 64 * 1024);
      // Slow every origin write so the atomic one is in flight while the readers run.
      storage.hooks = {
        write: async (name) => {
          if (name.endsWith(".img")) await sleep(5);
        },
      };
      const writing = v.writeAtomic(v.admit(0, fresh.length), fresh);
      const seen = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          await sleep(i);
          return v.read(0, fresh.length);
        }),
      );
      await writing;
      for (const s of seen) expect(s.equals(old) || s.equals(fresh)).toBe(true);
      expect((await v.read(0, fresh.length)).equals(fresh)).toBe(true);
      await pool.close();
    });
  });
});
