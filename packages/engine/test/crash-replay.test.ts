// Crash test (a): run a concurrent workload on real files through a recording storage layer,
// then rebuild many crash states (unsynced writes dropped in random subsets, torn writes), open
// each as a pool (recovery) and check every view against what the model allows.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { openPool } from "../src/index.js";
import { checkView, type WrittenRecord } from "./crash-check.js";
import { pattern, prng, withTempDir } from "./helpers.js";
import { sleep } from "./hooked-storage.js";
import { materializeCrash, RecordingStorage, type StorageOp } from "./recording-storage.js";

const SIZE = 48 * 1024;
const BS = 512;

interface Workload {
  ops: StorageOp[];
  writes: WrittenRecord[];
}

async function runWorkload(dir: string, seed: number, steps: number): Promise<Workload> {
  const rand = prng(seed);
  const storage = new RecordingStorage(dir);
  // A tiny checkpoint budget so log rotation and checkpoints happen inside the crash window.
  const pool = await openPool({ dir, chunkSize: 4096, storage, checkpointBytes: 6 * 1024 });
  const vol = await pool.createVolume("v", { sizeBytes: SIZE, blockSize: BS });
  await vol.flush();
  const writes: WrittenRecord[] = [];
  const inflight: Promise<unknown>[] = [];
  let nextId = 1;
  let snaps = 0;
  for (let step = 0; step < steps; step++) {
    const r = rand();
    if (r < 0.55) {
      const n = 1 + Math.floor(rand() * 4);
      const batch = Array.from({ length: n }, () => {
        const off = Math.floor(rand() * (SIZE / BS)) * BS;
        const len = Math.min(SIZE - off, (1 + Math.floor(rand() * 12)) * BS);
        const id = nextId++;
        const unmap = rand() < 0.1;
        const data = unmap ? Buffer.alloc(len) : pattern(seed * 1000 + id, len);
        const ticket = vol.admit(off, len);
        writes.push({ id, seq: ticket.seq, offset: off, data });
        return { ticket, data, id, unmap };
      });
      for (const b of batch.sort(() => rand() - 0.5)) {
        const p = (b.unmap ? vol.unmap(b.ticket) : vol.write(b.ticket, b.data)).then(() =>
          storage.mark("ack", b.id),
        );
        inflight.push(p);
      }
      if (rand() < 0.5) await Promise.all(inflight.splice(0));
    } else if (r < 0.7) {
      const name = `s${snaps++}`;
      const p = vol.createSnapshot(name).then((info) => {
        storage.mark("snap-done", snaps, info.seq);
      });
      if (rand() < 0.5) await p;
      else inflight.push(p);
    } else if (r < 0.75) {
      // Rollback: a write of the snapshot's whole content stamped between the writes admitted
      // before and after it. Nothing in flight, so the snapshot's image is exactly known.
      await Promise.all(inflight.splice(0));
      const list = vol.listSnapshots();
      const target = list[Math.floor(rand() * list.length)];
      if (target) {
        const image = Buffer.alloc(SIZE);
        for (const x of writes.filter((x) => x.seq < target.seq).sort((a, b) => a.seq - b.seq)) {
          x.data.copy(image, x.offset);
        }
        const id = nextId++;
        const stampBelow = Math.max(0, ...writes.map((x) => x.seq), ...list.map((x) => x.seq));
        writes.push({ id, seq: stampBelow + 0.5, offset: 0, data: image });
        await vol.rollback(target.name);
        storage.mark("ack", id);
      }
    } else if (r < 0.8) {
      const list = vol.listSnapshots();
      const victim = list[Math.floor(rand() * list.length)];
      if (victim) {
        storage.mark("delete-start", nextId++, victim.seq);
        await vol.deleteSnapshot(victim.name);
      }
    } else {
      const id = nextId++;
      await Promise.all(inflight.splice(0));
      storage.mark("flush-start", id);
      await vol.flush();
      storage.mark("flush-done", id);
    }
  }
  await Promise.all(inflight);
  // The crash window ends here: the ops of the clean close below are not part of it.
  const ops = storage.ops.slice();
  await pool.close();
  return { ops, writes };
}

/** Writes acknowledged before a flush that started and completed before op k. */
function durableAt(ops: StorageOp[], k: number): Set<number> {
  const acked = new Set<number>();
  const startedWith = new Map<number, Set<number>>();
  const durable = new Set<number>();
  for (let i = 0; i < k; i++) {
    const op = ops[i] as StorageOp;
    if (op.kind !== "mark") continue;
    if (op.what === "ack") acked.add(op.id);
    else if (op.what === "flush-start") startedWith.set(op.id, new Set(acked));
    else if (op.what === "flush-done") for (const id of startedWith.get(op.id) ?? []) durable.add(id);
  }
  return durable;
}

let droppedRounds = 0;

/**
 * Rebuilds the crash state before op k, recovers it and checks every view against the model.
 * Returns false when the volume's creation was not durable yet (nothing to check).
 */
async function checkCrashState(w: Workload, k: number, rand: () => number): Promise<boolean> {
  const crashDir = await mkdtemp(join(tmpdir(), "livesnap-crash-"));
  try {
    await materializeCrash(w.ops, k, rand, crashDir);
    const pool = await openPool({ dir: crashDir });
    if (pool.recovery.roundRecordsDropped > 0) droppedRounds++;
    const durable = durableAt(w.ops, k);
    const vols = pool.listVolumes();
    if (vols.length === 0) {
      // Only possible when the crash came before the volume's creation was durable.
      expect(durable.size).toBe(0);
      await pool.close();
      return false;
    }
    const vol = pool.getVolume("v");
    const live = await vol.read(0, SIZE);
    const err = checkView(live, Number.POSITIVE_INFINITY, w.writes, durable);
    expect(err, `crash at op ${k}/${w.ops.length}: live ${err}`).toBeNull();
    // Thin provisioning stays exact: whatever reports unmapped reads as zeros.
    for (const r of vol.lbaStatus(0, SIZE)) {
      if (r.mapped) continue;
      const zeros = live.subarray(r.offset, r.offset + r.length).every((b) => b === 0);
      expect(zeros, `crash at op ${k}: unmapped range at ${r.offset} holds data`).toBe(true);
    }
    const snapDone = new Set<number>();
    for (let i = 0; i < k; i++) {
      const op = w.ops[i] as StorageOp;
      if (op.kind === "mark" && op.what === "snap-done" && op.seq !== undefined) snapDone.add(op.seq);
    }
    for (const s of vol.listSnapshots()) {
      const got = await vol.getSnapshot(s.name).read(0, SIZE);
      // A snapshot holding a write at or above its seq = an origin overwrite without its copy.
      const serr = checkView(got, s.seq, w.writes, durable);
      expect(serr, `crash at op ${k}: snapshot ${s.name} (seq ${s.seq}) ${serr}`).toBeNull();
      snapDone.delete(s.seq);
    }
    // Snapshots whose creation was acknowledged survive unless a delete of them began.
    for (const seq of snapDone) {
      const deleteStarted = w.ops
        .slice(0, k)
        .some((op) => op.kind === "mark" && op.what === "delete-start" && op.seq === seq);
      expect(deleteStarted, `acknowledged snapshot seq ${seq} lost`).toBe(true);
    }
    // The recovered pool keeps working.
    if (process.env.LIVESNAP_CRASH_VERBOSE) console.log(`rounds dropped so far: ${droppedRounds}`);
    await vol.write(vol.admit(0, BS), pattern(99, BS));
    await vol.flush();
    await pool.close();
    return true;
  } finally {
    await rm(crashDir, { recursive: true, force: true });
  }
}

describe("crash states replayed from recorded storage operations", () => {
  const seeds = Number(process.env.LIVESNAP_CRASH_SEEDS ?? 4);
  const statesPerSeed = Number(process.env.LIVESNAP_CRASH_STATES ?? 40);
  for (let seed = 1; seed <= seeds; seed++) {
    it(`seed ${seed}: every crash state recovers to a legal state`, async () => {
      await withTempDir(async (dir) => {
        const w = await runWorkload(join(dir, "live"), seed, 60);
        const rand = prng(seed * 7 + 3);
        const syncs = w.ops.map((op, i) => (op.kind === "sync" ? i : -1)).filter((i) => i >= 0);
        expect(syncs.length).toBeGreaterThan(10);
        for (let n = 0; n < statesPerSeed; n++) {
          // Half the crash points right after a sync (most state durable), half anywhere.
          const k =
            n % 2 === 0
              ? (syncs[Math.floor(rand() * syncs.length)] as number) + 1
              : 1 + Math.floor(rand() * w.ops.length);
          await checkCrashState(w, k, rand);
        }
      });
    });
  }
});

/**
 * Snapshots followed by bursts of first writes, acknowledged (write-back) before their commit
 * rounds and origin overwrites, with flushes now and then.
 */
async function runFirstWriteBursts(dir: string, seed: number, rounds: number): Promise<Workload> {
  const rand = prng(seed);
  const storage = new RecordingStorage(dir);
  const pool = await openPool({ dir, chunkSize: 4096, storage, checkpointBytes: 6 * 1024 });
  const vol = await pool.createVolume("v", { sizeBytes: SIZE, blockSize: BS });
  const writes: WrittenRecord[] = [];
  let nextId = 1;
  const base = pattern(seed * 1000, SIZE);
  const t0 = vol.admit(0, SIZE);
  writes.push({ id: nextId, seq: t0.seq, offset: 0, data: base });
  await vol.write(t0, base);
  storage.mark("ack", nextId++);
  for (let r = 0; r < rounds; r++) {
    if (rand() < 0.4) {
      const id = nextId++;
      storage.mark("flush-start", id);
      await vol.flush();
      storage.mark("flush-done", id);
    }
    const info = await vol.createSnapshot(`s${r}`);
    storage.mark("snap-done", r, info.seq);
    const n = 2 + Math.floor(rand() * 5);
    const batch = Array.from({ length: n }, () => {
      const off = Math.floor(rand() * (SIZE / BS)) * BS;
      const len = Math.min(SIZE - off, (1 + Math.floor(rand() * 8)) * BS);
      const id = nextId++;
      const data = pattern(seed * 1000 + id, len);
      const ticket = vol.admit(off, len);
      writes.push({ id, seq: ticket.seq, offset: off, data });
      return { ticket, data, id };
    });
    // Only the acknowledgements are awaited: tails may still be pending at the next snapshot.
    await Promise.all(
      batch
        .sort(() => rand() - 0.5)
        .map((b) => vol.write(b.ticket, b.data).then(() => storage.mark("ack", b.id))),
    );
  }
  await vol.flush();
  await pool.close();
  return { ops: storage.ops, writes };
}

/** Acknowledged writes whose origin overwrite had not been issued before op k. */
function pendingTailsAt(w: Workload, k: number): number {
  let pending = 0;
  for (let i = 0; i < k; i++) {
    const op = w.ops[i] as StorageOp;
    if (op.kind !== "mark" || op.what !== "ack") continue;
    const wr = w.writes.find((x) => x.id === op.id);
    if (!wr) continue;
    const landed = w.ops
      .slice(i, k)
      .some(
        (o) => o.kind === "write" && o.name.endsWith(".img") && o.pos === wr.offset && o.data.equals(wr.data),
      );
    if (!landed) pending++;
  }
  return pending;
}

describe("crash states while write-back tails are pending", () => {
  const seeds = Number(process.env.LIVESNAP_CRASH_SEEDS ?? 4);
  const statesPerSeed = Number(process.env.LIVESNAP_CRASH_STATES ?? 40);
  for (let seed = 1; seed <= Math.max(2, Math.ceil(seeds / 2)); seed++) {
    it(`seed ${seed}: acknowledged unflushed writes may be lost, never an overwrite without its copy`, async () => {
      await withTempDir(async (dir) => {
        const w = await runFirstWriteBursts(join(dir, "live"), 100 + seed, 12);
        const rand = prng(seed * 13 + 5);
        // Crash points inside the windows between an acknowledgement and its tail's overwrite.
        const windows: number[] = [];
        for (let k = 1; k <= w.ops.length; k++) if (pendingTailsAt(w, k) > 0) windows.push(k);
        expect(windows.length).toBeGreaterThan(0);
        let checked = 0;
        for (let n = 0; n < statesPerSeed; n++) {
          const k =
            n % 4 === 3
              ? 1 + Math.floor(rand() * w.ops.length)
              : (windows[Math.floor(rand() * windows.length)] as number);
          if (await checkCrashState(w, k, rand)) checked++;
        }
        expect(checked).toBeGreaterThan(statesPerSeed / 2);
      });
    });
  }
});

describe("crash states between a write-back acknowledgement and its COW copy write", () => {
  it("the unflushed write may be lost, the snapshot keeps the old data, never an overwrite without its copy", async () => {
    await withTempDir(async (dir) => {
      const live = join(dir, "live");
      const storage = new RecordingStorage(live);
      const pool = await openPool({ dir: live, chunkSize: 4096, storage });
      const vol = await pool.createVolume("v", { sizeBytes: SIZE, blockSize: BS });
      const writes: WrittenRecord[] = [];
      const base = pattern(7000, SIZE);
      const t0 = vol.admit(0, SIZE);
      writes.push({ id: 1, seq: t0.seq, offset: 0, data: base });
      await vol.write(t0, base);
      storage.mark("ack", 1);
      storage.mark("flush-start", 2);
      await vol.flush();
      storage.mark("flush-done", 2);
      const info = await vol.createSnapshot("s");
      storage.mark("snap-done", 0, info.seq);
      // Hold every COW store write: the acknowledgements must come before any copy is written.
      let release: () => void = () => undefined;
      const held = new Promise<void>((r) => {
        release = r;
      });
      let holding = 0;
      storage.beforeWrite = (name) => {
        if (!name.endsWith(".cow")) return;
        holding++;
        return held;
      };
      const firstOp = storage.ops.length;
      const fresh = [
        { id: 3, offset: 4096, data: pattern(7003, 4096) },
        { id: 4, offset: 5 * 4096 + 512, data: pattern(7004, 2 * 512) },
      ];
      for (const f of fresh) {
        const ticket = vol.admit(f.offset, f.data.length);
        writes.push({ id: f.id, seq: ticket.seq, offset: f.offset, data: f.data });
        await vol.write(ticket, f.data);
        storage.mark("ack", f.id);
      }
      for (let waited = 0; holding < 2 && waited < 5000; waited += 5) await sleep(5);
      expect(holding).toBe(2);
      const ackedAt = storage.ops.length;
      // Nothing of the two writes reached the COW store or the origin before their acknowledgement.
      const early = storage.ops.slice(firstOp, ackedAt);
      expect(
        early.some((op) => op.kind === "write" && (op.name.endsWith(".cow") || op.name.endsWith(".img"))),
      ).toBe(false);
      const w: Workload = { ops: storage.ops, writes };
      const rand = prng(77);
      for (let n = 0; n < 12; n++) expect(await checkCrashState(w, ackedAt, rand)).toBe(true);
      release();
      storage.beforeWrite = null;
      await vol.flush();
      await pool.close();
      // Every crash point from the acknowledgement through the tails to the end.
      for (let k = ackedAt; k <= w.ops.length; k++) expect(await checkCrashState(w, k, rand)).toBe(true);
    });
  });
});

describe("a snapshot delete committed in the same round as a copy into that snapshot", () => {
  // Recovery checks the copies named by the log's last commit round and drops the round if one
  // does not match (its store sync may not have finished). A delete frees the slots its hand-over
  // does not keep: if a copy into the deleted snapshot shares the delete's round, punching or
  // reusing that slot while the round is still the last one would make recovery drop a completed
  // round: the delete, and the copies that acknowledged overwrites relied on.
  it("survives the punch of the freed slot at every crash point", async () => {
    await withTempDir(async (dir) => {
      const CS = 4096;
      const live = join(dir, "live");
      const storage = new RecordingStorage(live);
      const pool = await openPool({ dir: live, chunkSize: CS, storage });
      const vol = await pool.createVolume("v", { sizeBytes: 8 * CS });
      const original = pattern(1, 8 * CS);
      await vol.write(vol.admit(0, 8 * CS), original, { fua: true });
      await vol.createSnapshot("c");
      await vol.write(vol.admit(0, CS), pattern(2, CS), { fua: true }); // chunk 0 preserved in c
      await vol.createSnapshot("d");
      storage.mark("ready", 0);
      // Hold the log's next write: the round it belongs to (a copy of chunk 1 into d) stays open
      // while a copy of chunk 0 into d and d's delete are appended, so both share the next round.
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let held = false;
      storage.beforeWrite = async (name) => {
        if (!held && name.startsWith("log-")) {
          held = true;
          await gate;
        }
      };
      const d = () => vol.listSnapshots().find((s) => s.name === "d");
      const first = vol
        .write(vol.admit(CS, CS), pattern(3, CS), { fua: true })
        .then(() => storage.mark("ack", 1));
      await vi.waitFor(() => expect(held).toBe(true));
      const second = vol
        .write(vol.admit(0, CS), pattern(4, CS), { fua: true })
        .then(() => storage.mark("ack", 0));
      await vi.waitFor(() => expect(d()?.preservedChunks).toBe(2));
      const deleted = vol.deleteSnapshot("d").then(() => storage.mark("deleted", 0));
      release();
      await Promise.all([first, second, deleted]);
      await pool.close(); // waits for the background punch of d's freed slot
      const from = storage.ops.findIndex((op) => op.kind === "mark" && op.what === "ready");
      const punched = storage.ops.some(
        (op, i) =>
          i > from && op.kind === "write" && op.name.endsWith(".cow") && op.data.every((b) => b === 0),
      );
      expect(punched, "d's freed slot was punched").toBe(true);
      const dView = Buffer.concat([pattern(2, CS), original.subarray(CS)]);
      // Chunk 0: before and after the second write; chunk 1: before and after the first.
      const liveChunk = [
        [pattern(2, CS), pattern(4, CS)],
        [original.subarray(CS, 2 * CS), pattern(3, CS)],
      ] as const;
      const rand = prng(17);
      let checkedAfterDelete = 0;
      for (let k = from + 1; k <= storage.ops.length; k++) {
        const at = join(dir, `crash-${k}`);
        await materializeCrash(storage.ops, k, rand, at);
        const marked = (what: string, id = 0) =>
          storage.ops.slice(0, k).some((op) => op.kind === "mark" && op.what === what && op.id === id);
        const ackedDelete = marked("deleted");
        const again = await openPool({ dir: at, chunkSize: CS });
        try {
          const v = again.getVolume("v");
          const names = v.listSnapshots().map((s) => s.name);
          expect((await v.getSnapshot("c").read(0, 8 * CS)).equals(original), `crash at op ${k}: c`).toBe(
            true,
          );
          if (names.includes("d")) {
            expect(ackedDelete, `crash at op ${k}: d is back after its delete was acknowledged`).toBe(false);
            expect((await v.getSnapshot("d").read(0, 8 * CS)).equals(dView), `crash at op ${k}: d`).toBe(
              true,
            );
          }
          const now = await v.read(0, 8 * CS);
          for (const chunk of [0, 1]) {
            const [before, after] = liveChunk[chunk] as readonly [Buffer, Buffer];
            const got = now.subarray(chunk * CS, (chunk + 1) * CS);
            // An unacknowledged write may be torn at any 512-byte sector: each sector old or new.
            for (let at = 0; at < CS; at += 512) {
              const sector = (b: Buffer) => b.subarray(at, at + 512);
              const legal = marked("ack", chunk) ? [after] : [before, after];
              expect(
                legal.some((b) => sector(b).equals(sector(got))),
                `crash at op ${k}: live chunk ${chunk}, sector at ${at}`,
              ).toBe(true);
            }
          }
          expect(now.subarray(2 * CS).equals(original.subarray(2 * CS)), `crash at op ${k}: live`).toBe(true);
          if (ackedDelete) checkedAfterDelete++;
        } finally {
          await again.close();
        }
      }
      expect(checkedAfterDelete).toBeGreaterThan(0);
    });
  });
});
