// Engine benchmarks on real files in a temp dir. Prints a table; asserts nothing.
// Knobs: LIVESNAP_BENCH_SCALE (default 1) multiplies operation counts; LIVESNAP_BENCH_ONLY=plain
// runs only the per-I/O CPU section (plain 4 KiB writes and reads, no snapshot), =cow only the
// plain-vs-first-write section, =create only snapshot-create latency under 32 writers, =atomic only
// WRITE ATOMIC against FUA writes.
import { closeSync, fdatasyncSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import { cp, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { openPool, type VolumeHandle } from "../src/index.js";
import type { EnginePool } from "../src/pool.js";
import { ZERO_SLOT } from "../src/pool-state.js";
import type { Volume } from "../src/volume.js";

const SCALE = Number(process.env.LIVESNAP_BENCH_SCALE ?? 1);
const KiB = 1024;
const rows: [string, string, string][] = [];
const row = (what: string, value: string, note = ""): void => {
  rows.push([what, value, note]);
  console.log(`${what.padEnd(58)} ${value.padStart(16)}  ${note}`);
};

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function withPool<T>(fn: (pool: EnginePool, dir: string) => Promise<T>, chunkSize = 4096): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "livesnap-bench-"));
  const pool = await openPool({ dir, chunkSize });
  try {
    return await fn(pool, dir);
  } finally {
    await pool.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

const data4k = Buffer.alloc(4096, 0xab);

/**
 * Runs `count` 4 KiB writes at offsets from `offsetOf`, `depth` in flight; returns per-write
 * latencies (ms) and the process CPU (all threads: the pool's copies count too) per write in µs.
 */
async function writeLoad(
  vol: VolumeHandle,
  count: number,
  depth: number,
  offsetOf: (i: number) => number,
  fua = false,
): Promise<{ lat: number[]; seconds: number; cpuUs: number }> {
  const lat: number[] = new Array(count);
  let next = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const s = performance.now();
      await vol.write(vol.admit(offsetOf(i), 4096), data4k, { fua });
      lat[i] = performance.now() - s;
    }
  };
  await Promise.all(Array.from({ length: depth }, worker));
  const cpu = process.cpuUsage(c0);
  return { lat, seconds: (performance.now() - t0) / 1000, cpuUs: (cpu.user + cpu.system) / count };
}

/** Runs `count` 4 KiB reads at offsets from `offsetOf`, `depth` in flight; returns IOPS. */
async function readLoad(
  vol: VolumeHandle,
  count: number,
  depth: number,
  offsetOf: (i: number) => number,
): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < count) await vol.read(offsetOf(next++), 4096);
  };
  await Promise.all(Array.from({ length: depth }, worker));
  return count / ((performance.now() - t0) / 1000);
}

function summarize(r: { lat: number[]; seconds: number }): {
  iops: number;
  p50: number;
  p99: number;
  max: number;
} {
  const sorted = [...r.lat].sort((a, b) => a - b);
  return {
    iops: r.lat.length / r.seconds,
    p50: pct(sorted, 50),
    p99: pct(sorted, 99),
    max: sorted[sorted.length - 1] ?? 0,
  };
}

const fmt = (n: number, d = 0): string =>
  n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const us = (ms: number): string => `${fmt(ms * 1000, 0)} µs`;

/** Median of a series of trial results (the VM is shared: single runs are noisy). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/**
 * A load followed by flush(): with write-back the load's writes are acknowledged before their
 * origin overwrites; the flush drains them. Returns IOPS counting the flush as well.
 */
async function drainedIops(vol: VolumeHandle, r: { lat: number[]; seconds: number }): Promise<number> {
  const t0 = performance.now();
  await vol.flush();
  return r.lat.length / (r.seconds + (performance.now() - t0) / 1000);
}

/**
 * i-th of a fixed pseudo-random permutation of [0, n) (n a multiple of 4, the step coprime to it):
 * random 4 KiB offsets, so no kind of write gains from adjacent I/Os being merged.
 */
function shuffled(i: number, n: number): number {
  return (i * 7919) % n;
}

async function plainVsCow(): Promise<void> {
  // Sustained: each load is N writes, far past the write-back tail caps (256 tails), so it
  // measures the steady state, not a burst the tails absorb (2,000-write loads overstated QD 1
  // first writes by up to 2x).
  const N = 10000 * SCALE;
  const TRIALS = 5;
  await withPool(async (pool) => {
    // "plain": a volume that never has a snapshot. "first"/"later": fresh chunks of a second
    // volume after a new snapshot, then the same chunks again. Same pool, same files layout.
    const plainVol = await pool.createVolume("plain", { sizeBytes: N * 4096 });
    await writeLoad(plainVol, N, 32, (i) => i * 4096);
    const vol = await pool.createVolume("v", { sizeBytes: TRIALS * 2 * N * 4096 });
    await writeLoad(vol, TRIALS * 2 * N, 32, (i) => i * 4096);
    type Series = { iops: number[]; cpu: number[]; p50: number[] };
    const series = (): Series => ({ iops: [], cpu: [], p50: [] });
    const s = {
      plain1: series(),
      plain32: series(),
      fua1: series(),
      fua32: series(),
      first1: series(),
      first32: series(),
      later1: series(),
      later32: series(),
      firstFlushed1: series(),
      firstFlushed32: series(),
      plainFlushed1: series(),
      plainFlushed32: series(),
    };
    const note = (x: Series, r: { lat: number[]; seconds: number; cpuUs: number }): void => {
      const m = summarize(r);
      x.iops.push(m.iops);
      x.p50.push(m.p50);
      x.cpu.push(r.cpuUs);
    };
    // A load, then flush() (write-back writes are acknowledged before their origin overwrites;
    // the flush drains them): IOPS and CPU counting the flush.
    const drained = async (
      x: Series,
      v: VolumeHandle,
      r: { lat: number[]; seconds: number; cpuUs: number },
    ): Promise<void> => {
      const c0 = process.cpuUsage();
      x.iops.push(await drainedIops(v, r));
      const c = process.cpuUsage(c0);
      x.cpu.push(r.cpuUs + (c.user + c.system) / r.lat.length);
    };
    const plainAt = (i: number): number => shuffled(i, N) * 4096;
    for (let t = 0; t < TRIALS; t++) {
      // Alternate the kinds inside each trial so background load hits all of them alike. Every
      // load starts from clean pages (a flush first), as the first writes' origin pages are.
      const firstAt = (i: number): number => (t * 2 * N + shuffled(i, N)) * 4096;
      const first32At = (i: number): number => (t * 2 * N + N + shuffled(i, N)) * 4096;
      await vol.createSnapshot(`t${t}`);
      await plainVol.flush();
      note(s.plain1, await writeLoad(plainVol, N, 1, plainAt));
      const r1 = await writeLoad(vol, N, 1, firstAt);
      note(s.first1, r1);
      await drained(s.firstFlushed1, vol, r1);
      await drained(s.plainFlushed1, plainVol, await writeLoad(plainVol, N, 1, plainAt));
      note(s.later1, await writeLoad(vol, N, 1, firstAt));
      note(s.fua1, await writeLoad(plainVol, N / 10, 1, plainAt, true));
      await plainVol.flush();
      note(s.plain32, await writeLoad(plainVol, N, 32, plainAt));
      const r32 = await writeLoad(vol, N, 32, first32At);
      note(s.first32, r32);
      await drained(s.firstFlushed32, vol, r32);
      await drained(s.plainFlushed32, plainVol, await writeLoad(plainVol, N, 32, plainAt));
      note(s.later32, await writeLoad(vol, N, 32, first32At));
      note(s.fua32, await writeLoad(plainVol, N / 2, 32, plainAt, true));
    }
    const iops = (x: Series): number => median(x.iops);
    const cpu = (x: Series): number => median(x.cpu);
    const cpuNote = (x: Series): string => `CPU ${fmt(cpu(x), 1)} µs/write`;
    const vs = (x: Series, base: Series): string =>
      `${fmt(iops(base) / iops(x), 2)}x plain (CPU ${fmt(cpu(x) / cpu(base), 2)}x)`;
    row(
      "plain 4 KiB overwrite, QD1",
      `${fmt(iops(s.plain1))} IOPS`,
      `${cpuNote(s.plain1)}; median of ${TRIALS}`,
    );
    row(
      "plain 4 KiB overwrite, QD32",
      `${fmt(iops(s.plain32))} IOPS`,
      `${cpuNote(s.plain32)}; median of ${TRIALS}`,
    );
    row("plain 4 KiB overwrite with FUA (durable), QD1", `${fmt(iops(s.fua1))} IOPS`, "");
    row("plain 4 KiB overwrite with FUA (durable), QD32", `${fmt(iops(s.fua32))} IOPS`, "");
    for (const [label, x, plain, fua] of [
      ["QD1", s.first1, s.plain1, s.fua1],
      ["QD32", s.first32, s.plain32, s.fua32],
    ] as const) {
      row(
        `first write after snapshot (COW, no FUA), ${label}`,
        `${fmt(iops(x))} IOPS`,
        `p50 ${us(median(x.p50))}, ${cpuNote(x)}; ${vs(x, plain)}, ${fmt(iops(fua) / iops(x), 2)}x FUA`,
      );
    }
    for (const [label, x, plain] of [
      ["QD1", s.firstFlushed1, s.plainFlushed1],
      ["QD32", s.firstFlushed32, s.plainFlushed32],
    ] as const) {
      row(
        `first write (no FUA) + closing flush, ${label}`,
        `${fmt(iops(x))} IOPS`,
        `plain + flush: ${fmt(iops(plain))} IOPS; ${fmt(iops(plain) / iops(x), 2)}x (CPU ${fmt(cpu(x) / cpu(plain), 2)}x)`,
      );
    }
    row("later write (chunk already preserved), QD1", `${fmt(iops(s.later1))} IOPS`, vs(s.later1, s.plain1));
    row(
      "later write (chunk already preserved), QD32",
      `${fmt(iops(s.later32))} IOPS`,
      vs(s.later32, s.plain32),
    );
  });
}

/**
 * What the COW rule costs in system calls alone, from one thread with no engine around them: a
 * first write needs a read of the old chunk, its copy written into the store and the overwrite;
 * a plain write needs the overwrite. Bounds what "first write / plain write" can reach on this
 * machine while all three run on the submitting thread.
 */
async function syscallFloor(): Promise<void> {
  const N = 20000 * SCALE;
  const dir = await mkdtemp(join(tmpdir(), "livesnap-bench-floor-"));
  try {
    const origin = openSync(join(dir, "origin"), "w+");
    const store = openSync(join(dir, "store"), "w+");
    const block = Buffer.alloc(4096, 0xab);
    const old = Buffer.alloc(4096);
    for (let i = 0; i < N; i++) writeSync(origin, block, 0, 4096, i * 4096);
    const plain: number[] = [];
    const cow: number[] = [];
    for (let t = 0; t < 5; t++) {
      fdatasyncSync(origin);
      let t0 = performance.now();
      for (let i = 0; i < N; i++) writeSync(origin, block, 0, 4096, shuffled(i, N) * 4096);
      plain.push(((performance.now() - t0) * 1000) / N);
      fdatasyncSync(origin);
      ftruncateSync(store, 0);
      fdatasyncSync(store);
      t0 = performance.now();
      for (let i = 0; i < N; i++) {
        const at = shuffled(i, N) * 4096;
        readSync(origin, old, 0, 4096, at);
        writeSync(store, old, 0, 4096, i * 4096);
        writeSync(origin, block, 0, 4096, at);
      }
      cow.push(((performance.now() - t0) * 1000) / N);
    }
    closeSync(origin);
    closeSync(store);
    row(
      "syscalls alone: read + store write + overwrite vs overwrite",
      `${fmt(median(cow), 2)} / ${fmt(median(plain), 2)} µs`,
      `${fmt(median(cow) / median(plain), 2)}x (sync, one thread, no engine)`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The best a copier thread could do (dm-snap's kcopyd split): the submitting thread only copies
 * each write's data into a shared ring; a copier thread reads the old chunk and writes it into
 * the store; a sync thread fdatasyncs the store; the copier then overwrites the origin for every
 * write the sync covers. No engine, records or locks: an upper bound for taking the COW rule's
 * I/O off the event loop on this machine, next to a bare overwrite loop on the same file.
 */
async function copierFloor(): Promise<void> {
  const N = 20000 * SCALE;
  const RING = 4096;
  const CS = 4096;
  // Shared counters: writes submitted, copies stored, copies synced, origin overwrites done, stop.
  const [SUBMITTED, STORED, SYNCED, DONE, STOP] = [0, 1, 2, 3, 4];
  const threadSource = `
    const { workerData } = require("node:worker_threads");
    const { readSync, writeSync, fdatasyncSync } = require("node:fs");
    const { role, ctlBuf, offsBuf, dataBuf, origin, store, ring, cs } = workerData;
    const ctl = new Int32Array(ctlBuf), offs = new Int32Array(offsBuf), data = new Uint8Array(dataBuf);
    if (role === "sync") {
      let synced = 0;
      while (!Atomics.load(ctl, ${STOP})) {
        const stored = Atomics.load(ctl, ${STORED});
        if (stored === synced) { Atomics.wait(ctl, ${STORED}, stored, 1); continue; }
        fdatasyncSync(store);
        synced = stored;
        Atomics.store(ctl, ${SYNCED}, synced);
      }
    } else {
      const old = Buffer.alloc(cs);
      let stored = 0, done = 0;
      while (!Atomics.load(ctl, ${STOP})) {
        const submitted = Atomics.load(ctl, ${SUBMITTED});
        let progressed = false;
        for (let n = 0; stored < submitted && n < 16; n++, stored++) {
          const k = stored % ring;
          readSync(origin, old, 0, cs, offs[k] * cs);
          writeSync(store, old, 0, cs, stored * cs);
          progressed = true;
        }
        if (progressed) { Atomics.store(ctl, ${STORED}, stored); Atomics.notify(ctl, ${STORED}); }
        for (const synced = Atomics.load(ctl, ${SYNCED}); done < synced; done++) {
          const k = done % ring;
          writeSync(origin, data.subarray(k * cs, (k + 1) * cs), 0, cs, offs[k] * cs);
          progressed = true;
        }
        Atomics.store(ctl, ${DONE}, done);
        Atomics.notify(ctl, ${DONE});
        if (!progressed) Atomics.wait(ctl, ${SUBMITTED}, submitted, 0.05);
      }
    }`;
  const dir = await mkdtemp(join(tmpdir(), "livesnap-bench-copier-"));
  try {
    const origin = openSync(join(dir, "origin"), "w+");
    const store = openSync(join(dir, "store"), "w+");
    const block = Buffer.alloc(CS, 0xab);
    for (let i = 0; i < N; i++) writeSync(origin, block, 0, CS, i * CS);
    const plain: number[] = [];
    const copier: number[] = [];
    for (let t = 0; t < 5; t++) {
      fdatasyncSync(origin);
      const t0 = performance.now();
      for (let i = 0; i < N; i++) writeSync(origin, block, 0, CS, shuffled(i, N) * CS);
      plain.push(N / ((performance.now() - t0) / 1000));
      fdatasyncSync(origin);
      ftruncateSync(store, 0);
      fdatasyncSync(store);
      const ctl = new Int32Array(new SharedArrayBuffer(5 * 4));
      const offs = new Int32Array(new SharedArrayBuffer(RING * 4));
      const data = new Uint8Array(new SharedArrayBuffer(RING * CS));
      const shared = {
        ctlBuf: ctl.buffer,
        offsBuf: offs.buffer,
        dataBuf: data.buffer,
        origin,
        store,
        ring: RING,
        cs: CS,
      };
      const threads = ["copy", "sync"].map(
        (role) => new Worker(threadSource, { eval: true, workerData: { ...shared, role } }),
      );
      await Promise.all(threads.map((w) => new Promise((resolve) => w.once("online", resolve))));
      const waitDone = (below: number): void => {
        for (let d = Atomics.load(ctl, DONE); d < below; d = Atomics.load(ctl, DONE))
          Atomics.wait(ctl, DONE, d, 1);
      };
      const t1 = performance.now();
      for (let i = 0; i < N; i++) {
        waitDone(i - RING + 1);
        const k = i % RING;
        offs[k] = shuffled(i, N);
        data.set(block, k * CS);
        Atomics.store(ctl, SUBMITTED, i + 1);
        Atomics.notify(ctl, SUBMITTED);
      }
      waitDone(N);
      copier.push(N / ((performance.now() - t1) / 1000));
      Atomics.store(ctl, STOP, 1);
      await Promise.all(threads.map((w) => w.terminate()));
    }
    closeSync(origin);
    closeSync(store);
    row(
      "COW I/O on a copier + a sync thread vs overwrite, IOPS",
      `${fmt(median(copier))} / ${fmt(median(plain))}`,
      `${fmt(median(plain) / median(copier), 2)}x (ideal split, no engine)`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function freshFill(): Promise<void> {
  await withPool(async (pool) => {
    const N = 8000 * SCALE;
    const vol = await pool.createVolume("fill", { sizeBytes: 2 * N * 4096 });
    // Thin allocation: a first write to an unallocated chunk queues its map record and, once per
    // 4096-chunk region per flush epoch, commits a write intent.
    const seq = summarize(await writeLoad(vol, N, 1, (i) => i * 4096));
    const qd = summarize(await writeLoad(vol, N, 32, (i) => (N + i) * 4096));
    row("fill of unallocated chunks (thin allocation), QD1", `${fmt(seq.iops)} IOPS`, `p50 ${us(seq.p50)}`);
    row("fill of unallocated chunks (thin allocation), QD32", `${fmt(qd.iops)} IOPS`, `p50 ${us(qd.p50)}`);
  });
}

/**
 * WRITE ATOMIC (journalled: two commit rounds and an origin sync per write) with FUA against a FUA
 * write of the same size, and write-back (acknowledged at once, a tail does the rest; the time
 * includes a closing flush) against a write-back plain write.
 */
async function atomicWrites(): Promise<void> {
  await withPool(async (pool) => {
    const N = 1000 * SCALE;
    for (const size of [4 * KiB, 64 * KiB]) {
      const vol = await pool.createVolume(`atomic-${size}`, { sizeBytes: 256 * size });
      const data = Buffer.alloc(size, 0x5c);
      await vol.write(vol.admit(0, 256 * size), Buffer.alloc(256 * size, 1));
      await vol.flush();
      for (const depth of [1, 32]) {
        const run = async (atomic: boolean, fua: boolean): Promise<{ iops: number; p50: number }> => {
          const lat: number[] = [];
          let next = 0;
          const t0 = performance.now();
          const worker = async (): Promise<void> => {
            while (next < N) {
              const at = (shuffled(next++, 256) % 256) * size;
              const s = performance.now();
              const t = vol.admit(at, size);
              await (atomic ? vol.writeAtomic(t, data, { fua }) : vol.write(t, data, { fua }));
              lat.push(performance.now() - s);
            }
          };
          await Promise.all(Array.from({ length: depth }, worker));
          await vol.flush();
          lat.sort((a, b) => a - b);
          return { iops: N / ((performance.now() - t0) / 1000), p50: pct(lat, 50) };
        };
        for (const fua of [true, false]) {
          const plain = await run(false, fua);
          const atomic = await run(true, fua);
          const kind = fua ? "FUA" : "write-back + flush";
          row(
            `atomic write ${size / KiB} KiB, ${kind}, QD${depth}`,
            `${fmt(atomic.iops)} IOPS`,
            `p50 ${us(atomic.p50)}; plain write: ${fmt(plain.iops)} IOPS, p50 ${us(plain.p50)}`,
          );
        }
      }
    }
  });
}

async function chunkSizes(): Promise<void> {
  for (const cs of [4096, 16384, 65536]) {
    await withPool(async (pool) => {
      const N = 1000 * SCALE;
      const vol = await pool.createVolume("v", { sizeBytes: N * cs });
      await writeLoad(vol, N, 32, (i) => i * cs);
      await vol.createSnapshot("s");
      const r = summarize(await writeLoad(vol, N, 32, (i) => i * cs));
      row(
        `first 4 KiB write after snapshot, chunk ${cs / KiB} KiB, QD32`,
        `${fmt(r.iops)} IOPS`,
        `p50 ${us(r.p50)}`,
      );
    }, cs);
  }
}

async function manySnapshots(): Promise<void> {
  for (const k of [1, 10, 100, 1000]) {
    await withPool(async (pool) => {
      const N = 2000 * SCALE;
      const vol = await pool.createVolume("v", { sizeBytes: (N + 4 * k + 64) * 4096 });
      // Snapshot tables are spread over a 1000-snapshot chain; writes still touch one of them.
      await writeLoad(vol, N, 32, (i) => i * 4096);
      // k snapshots, each with a few preserved chunks of its own.
      for (let s = 0; s < k; s++) {
        await vol.createSnapshot(`s${s}`);
        await writeLoad(vol, 2, 2, (i) => (N + 64 + s * 4 + i) * 4096);
      }
      const first: number[] = [];
      const later: number[] = [];
      for (let t = 0; t < 3; t++) {
        // Each trial: a new newest snapshot, so every chunk is a first write again.
        await vol.createSnapshot(`trial${t}`);
        first.push(summarize(await writeLoad(vol, N, 32, (i) => i * 4096)).iops);
        later.push(summarize(await writeLoad(vol, N, 32, (i) => i * 4096)).iops);
      }
      row(`${k} snapshots: first write (COW), QD32`, `${fmt(median(first))} IOPS`, "median of 3");
      row(`${k} snapshots: later write, QD32`, `${fmt(median(later))} IOPS`, "median of 3");
    });
  }
}

async function createLatencyUnderLoad(): Promise<void> {
  await withPool(async (pool) => {
    const CH = 16384;
    const vol = await pool.createVolume("v", { sizeBytes: CH * 4096 });
    await writeLoad(vol, CH, 32, (i) => i * 4096);
    let stop = false;
    let worst = 0;
    let writes = 0;
    const writer = async (w: number): Promise<void> => {
      let i = w;
      while (!stop) {
        const s = performance.now();
        await vol.write(vol.admit((i % CH) * 4096, 4096), data4k);
        const d = performance.now() - s;
        if (d > worst) worst = d;
        writes++;
        i += 32 * 7 + 1;
      }
    };
    // Baseline worst write latency without snapshots.
    const base = Array.from({ length: 32 }, (_, w) => writer(w));
    await new Promise((r) => setTimeout(r, 1000));
    stop = true;
    await Promise.all(base);
    const worstWithout = worst;
    stop = false;
    worst = 0;
    const loaded = Array.from({ length: 32 }, (_, w) => writer(w));
    const stamp: number[] = [];
    const durable: number[] = [];
    for (let s = 0; s < 200 * SCALE; s++) {
      const t0 = performance.now();
      const p = vol.createSnapshot(`c${s}`);
      stamp.push(performance.now() - t0);
      await p;
      durable.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 2));
    }
    stop = true;
    await Promise.all(loaded);
    stamp.sort((a, b) => a - b);
    durable.sort((a, b) => a - b);
    row(
      "snapshot create under 32 writers: stamp (sync part) p50/p99",
      `${us(pct(stamp, 50))} / ${us(pct(stamp, 99))}`,
      "seq taken, record queued",
    );
    row(
      "snapshot create under 32 writers: durable p50/p99",
      `${us(pct(durable, 50))} / ${us(pct(durable, 99))}`,
      "incl. group-committed fdatasync",
    );
    row(
      "worst write latency, 32 writers, with snapshots",
      `${us(worst)}`,
      `without snapshots: ${us(worstWithout)}; ${fmt(writes)} writes`,
    );
  });
}

async function deleteMillion(): Promise<void> {
  for (const olderEntries of [0, 1000]) {
    await withPool(async (pool) => {
      const vol = await pool.createVolume("v", { sizeBytes: 8 * 1024 ** 4 });
      await vol.createSnapshot("older");
      await vol.createSnapshot("big");
      // Synthetic table (writing 4 GiB of COW data would measure the disk, not the delete).
      const v = vol as unknown as Volume;
      const [older, big] = v.vs.snapshots;
      if (!older || !big) throw new Error("setup");
      const M = 1_000_000;
      for (let c = 0; c < M; c++) big.setEntry(c * 3, c);
      for (let c = 0; c < olderEntries; c++) older.setEntry(c * 3, ZERO_SLOT);
      if (olderEntries === 0) await vol.deleteSnapshot("older");
      const t0 = performance.now();
      await vol.deleteSnapshot("big");
      const ms = performance.now() - t0;
      row(
        `delete snapshot with 1M entries (${olderEntries === 0 ? "no older snapshot" : "older has 1k entries"})`,
        `${fmt(ms, 1)} ms`,
        "metadata hand-over + commit",
      );
    });
  }
}

async function persistedBytes(): Promise<void> {
  await withPool(async (pool, dir) => {
    const N = 4000;
    const vol = await pool.createVolume("v", { sizeBytes: N * 4096 });
    await writeLoad(vol, N, 32, (i) => i * 4096);
    await vol.flush();
    await vol.createSnapshot("s");
    const logBefore = (await stat(join(dir, "log-1"))).size;
    await writeLoad(vol, N, 32, (i) => i * 4096);
    const logAfter = (await stat(join(dir, "log-1"))).size;
    const id = vol.info.id;
    const store = (await stat(join(dir, `vol-${id}.cow`))).size;
    row(
      "persisted bytes per preserved 4 KiB chunk",
      `${fmt((logAfter - logBefore + store) / N, 1)} B`,
      `${fmt((logAfter - logBefore) / N, 1)} B metadata (QD32 group commit)`,
    );
  });
}

async function recovery(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "livesnap-bench-"));
  try {
    const pool = await openPool({ dir, checkpointBytes: 1 << 30 });
    const N = 20000 * SCALE;
    const vol = await pool.createVolume("v", { sizeBytes: N * 4096 });
    await writeLoad(vol, N, 32, (i) => i * 4096);
    for (let s = 0; s < 5; s++) {
      await vol.createSnapshot(`s${s}`);
      await writeLoad(vol, N / 5, 32, (i) => (s * (N / 5) + i) * 4096);
    }
    await vol.flush();
    // No close: the next open must replay the whole log (like after a crash). The pool lock
    // refuses a second open in this process, so the crash image is a copy without the lock.
    const crashed = await mkdtemp(join(tmpdir(), "livesnap-bench-crashed-"));
    await cp(dir, crashed, { recursive: true, filter: (src) => !src.endsWith("pool.lock") });
    const t0 = performance.now();
    const again = await openPool({ dir: crashed });
    const replay = performance.now() - t0;
    row(
      `recovery: replay log of ${fmt(again.recovery.logRecords)} records`,
      `${fmt(replay, 1)} ms`,
      `${fmt(N)} preserved chunks`,
    );
    await again.close();
    const t1 = performance.now();
    const third = await openPool({ dir: crashed });
    row(
      "recovery: from checkpoint after clean close",
      `${fmt(performance.now() - t1, 1)} ms`,
      `${third.recovery.logRecords} log records`,
    );
    await third.close();
    await pool.close().catch(() => undefined);
    await rm(crashed, { recursive: true, force: true });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function blockMap16T(): Promise<void> {
  await withPool(async (pool) => {
    const TiB = 1024 ** 4;
    // One chunk short of 16 TiB: ext4 (4 KiB blocks) holds no file of 16 TiB.
    const vol = await pool.createVolume("v", { sizeBytes: 16 * TiB - 4096 });
    for (let i = 0; i < 2000; i++) {
      const off = Math.floor((((i * 7919) % 2000) / 2000) * 15 * TiB);
      await vol.write(vol.admit(off - (off % 4096), 4096), data4k);
    }
    await vol.createSnapshot("s");
    for (let i = 0; i < 500; i++) await vol.write(vol.admit(i * 1024 ** 3, 4096), data4k);
    const t0 = performance.now();
    vol.blockMap({ buckets: 65536, since: "s" });
    row(
      "block map, 16 TiB volume, 65536 buckets",
      `${fmt(performance.now() - t0, 1)} ms`,
      "2,500 populated chunks",
    );
  });
}

/**
 * Per-I/O engine CPU: plain 4 KiB writes and random reads of a volume without snapshots (the page
 * cache holds the file, so these rows are dominated by the engine's own CPU per I/O).
 */
async function plainIo(): Promise<void> {
  await withPool(async (pool) => {
    const N = Math.round(20_000 * SCALE);
    const vol = await pool.createVolume("plain-io", { sizeBytes: N * 4096 });
    await writeLoad(vol, N, 32, (i) => i * 4096);
    await vol.flush();
    // A fixed pseudo-random permutation step (odd multiplier mod N) spreads the reads.
    const rand = (i: number): number => ((i * 7919) % N) * 4096;
    const w1: number[] = [];
    const w32: number[] = [];
    const r1: number[] = [];
    const r32: number[] = [];
    const w512: number[] = [];
    for (let t = 0; t < 5; t++) {
      w1.push(summarize(await writeLoad(vol, N / 4, 1, rand)).iops);
      w32.push(summarize(await writeLoad(vol, N, 32, rand)).iops);
      w512.push(summarize(await writeLoad(vol, N, 512, rand)).iops);
      await vol.flush();
      r1.push(await readLoad(vol, N / 4, 1, rand));
      r32.push(await readLoad(vol, N, 32, rand));
    }
    row("plain 4 KiB random write, QD1", `${fmt(median(w1))} IOPS`, "median of 5; no snapshot");
    row("plain 4 KiB random write, QD32", `${fmt(median(w32))} IOPS`, "median of 5; no snapshot");
    row(
      "plain 4 KiB random write, QD512 (many initiators)",
      `${fmt(median(w512))} IOPS`,
      "median of 5; lock checks by range index",
    );
    row("plain 4 KiB random read, QD1", `${fmt(median(r1))} IOPS`, "median of 5; page cache");
    row("plain 4 KiB random read, QD32", `${fmt(median(r32))} IOPS`, "median of 5; page cache");
  });
}

console.log(`livesnap engine benchmarks (node ${process.version}, scale ${SCALE}, tmpdir ${tmpdir()})\n`);
const only = process.env.LIVESNAP_BENCH_ONLY;
if (only === "create") {
  await createLatencyUnderLoad();
  process.exit(0);
}
if (only === "atomic") {
  await atomicWrites();
  process.exit(0);
}
if (only !== "cow") await plainIo();
if (only !== "plain") {
  await syscallFloor();
  await copierFloor();
  await plainVsCow();
}
if (only === "plain" || only === "cow") {
  for (const [a, b, c] of rows) console.log(`| ${a} | ${b} | ${c} |`);
  process.exit(0);
}
await freshFill();
await atomicWrites();
await chunkSizes();
await manySnapshots();
await createLatencyUnderLoad();
await deleteMillion();
await persistedBytes();
await recovery();
await blockMap16T();
console.log("\n| benchmark | result | notes |\n|---|---|---|");
for (const [a, b, c] of rows) console.log(`| ${a} | ${b} | ${c} |`);
