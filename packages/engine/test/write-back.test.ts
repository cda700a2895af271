// Write-back acknowledgement (WCE=1): a first write after a snapshot is acknowledged once the old
// chunk is read into memory; the COW copy write, its record, the commit wait, the origin
// overwrite and the unlock run in a background tail. These tests hold the storage's fsyncs or origin writes with gates, so
// each ordering claim is checked at the moment it matters, on real files.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openPool, type VolumeHandle } from "../src/index.js";
import { pattern, withTempDir } from "./helpers.js";
import { errno, HookedStorage, sleep } from "./hooked-storage.js";

const CS = 4096;

/** A gate that I/O hooks wait on until the test opens it. */
class Gate {
  held = 0;
  private open: (() => void) | null = null;
  private readonly opened: Promise<void>;
  constructor() {
    this.opened = new Promise((r) => {
      this.open = r;
    });
  }
  wait(): Promise<void> {
    this.held++;
    return this.opened;
  }
  release(): void {
    this.open?.();
  }
}

/** Settles-or-not probe: true once `p` has settled. */
function settled(p: Promise<unknown>): () => boolean {
  let done = false;
  p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  return () => done;
}

async function originOnDisk(dir: string, vol: VolumeHandle, offset: number, length: number): Promise<Buffer> {
  const file = await readFile(join(dir, `vol-${vol.info.id}.img`));
  const out = Buffer.alloc(length);
  file.copy(out, 0, offset, Math.min(file.length, offset + length));
  return out;
}

describe("write-back acknowledgement", () => {
  it("acknowledges a first write while its commit fsync is held; the origin is untouched until it is released", async () => {
    await withTempDir(async (dir) => {
      const storage = new HookedStorage(dir, {});
      const pool = await openPool({ dir, chunkSize: CS, storage });
      const vol = await pool.createVolume("v", { sizeBytes: 16 * CS });
      const old = pattern(1, 4 * CS);
      await vol.write(vol.admit(0, old.length), old);
      await vol.flush();
      await vol.createSnapshot("s");
      const gate = new Gate();
      let originWrites = 0;
      storage.hooks = {
        sync: (name) => (name.startsWith("log-") || name.endsWith(".cow") ? gate.wait() : undefined),
        write: (name) => {
          if (name.endsWith(".img")) originWrites++;
        },
      };
      const fresh = pattern(2, CS);
      await vol.write(vol.admit(0, CS), fresh);
      // Acknowledged before its commit round finished (the round may not even have reached its
      // fsync yet). Once the round is stuck in the held fsync, nothing has reached the origin.
      for (let waited = 0; gate.held === 0 && waited < 5000; waited += 5) await sleep(5);
      expect(gate.held).toBeGreaterThan(0);
      expect(originWrites).toBe(0);
      expect(vol.stats().writes).toBe(2); // counted when acknowledged
      expect((await originOnDisk(dir, vol, 0, CS)).equals(old.subarray(0, CS))).toBe(true);
      // A read of another chunk is not delayed; a read of the written chunk waits for the tail.
      expect((await vol.read(CS, CS)).equals(old.subarray(CS, 2 * CS))).toBe(true);
      const readBack = vol.read(0, CS);
      const readDone = settled(readBack);
      // A FUA write keeps the synchronous path: it cannot complete while the fsync is held.
      const fua = vol.write(vol.admit(2 * CS, CS), pattern(3, CS), { fua: true });
      const fuaDone = settled(fua);
      await sleep(40);
      expect(readDone()).toBe(false);
      expect(fuaDone()).toBe(false);
      expect(originWrites).toBe(0);
      gate.release();
      // Read-your-writes: the read admitted after the acknowledgement sees the new data.
      expect((await readBack).equals(fresh)).toBe(true);
      await fua;
      expect((await originOnDisk(dir, vol, 0, CS)).equals(fresh)).toBe(true);
      expect((await vol.getSnapshot("s").read(0, 4 * CS)).equals(old)).toBe(true);
      storage.hooks = {};
      await vol.flush();
      await pool.close();
    });
  });

  it("acknowledges a first write while its COW store write is held; that chunk's reads wait, others do not", async () => {
    await withTempDir(async (dir) => {
      const storage = new HookedStorage(dir, {});
      const pool = await openPool({ dir, chunkSize: CS, storage });
      const vol = await pool.createVolume("v", { sizeBytes: 16 * CS });
      const old = pattern(1, 4 * CS);
      await vol.write(vol.admit(0, old.length), old);
      await vol.flush();
      await vol.createSnapshot("s");
      const gate = new Gate();
      let originWrites = 0;
      storage.hooks = {
        write: (name) => {
          if (name.endsWith(".cow")) return gate.wait();
          if (name.endsWith(".img")) originWrites++;
        },
      };
      const fresh = pattern(2, CS);
      const mine = Buffer.from(fresh);
      await vol.write(vol.admit(CS, CS), mine);
      mine.fill(0xee); // the caller reuses its buffer once acknowledged
      for (let waited = 0; gate.held === 0 && waited < 5000; waited += 5) await sleep(5);
      expect(gate.held).toBe(1);
      expect(originWrites).toBe(0);
      // The held copy already counts as preserved for the inspection panel and incremental backup.
      expect(vol.changedChunks("s").ranges).toEqual([{ offset: CS, length: CS }]);
      const map = vol.blockMap({ buckets: 16 });
      expect(map.counts[1 * map.classes.length + map.classes.indexOf("preserved:s")]).toBe(1);
      // Other chunks read at once, live and in the snapshot.
      expect((await vol.read(0, CS)).equals(old.subarray(0, CS))).toBe(true);
      expect((await vol.getSnapshot("s").read(2 * CS, CS)).equals(old.subarray(2 * CS, 3 * CS))).toBe(true);
      const snapRead = vol.getSnapshot("s").read(CS, CS);
      const liveRead = vol.read(CS, CS);
      const snapDone = settled(snapRead);
      const liveDone = settled(liveRead);
      await sleep(40);
      expect(snapDone()).toBe(false);
      expect(liveDone()).toBe(false);
      expect(originWrites).toBe(0);
      gate.release();
      expect((await snapRead).equals(old.subarray(CS, 2 * CS))).toBe(true);
      expect((await liveRead).equals(fresh)).toBe(true);
      storage.hooks = {};
      await vol.flush();
      expect(vol.stats()).toMatchObject({ cowCopies: 1, writeBackErrors: 0 });
      expect((await originOnDisk(dir, vol, CS, CS)).equals(fresh)).toBe(true);
      await pool.close();
      const again = await openPool({ dir });
      const v = again.getVolume("v");
      expect((await v.getSnapshot("s").read(0, 4 * CS)).equals(old)).toBe(true);
      expect((await v.read(CS, CS)).equals(fresh)).toBe(true);
      await again.close();
    });
  });

  it("COW store full while a tail writes the copy: the snapshot is invalidated and the overwrite goes ahead", async () => {
    await withTempDir(async (dir) => {
      const storage = new HookedStorage(dir, {});
      const pool = await openPool({ dir, chunkSize: CS, storage });
      const vol = await pool.createVolume("v", { sizeBytes: 16 * CS });
      await vol.write(vol.admit(0, 2 * CS), pattern(1, 2 * CS));
      await vol.createSnapshot("s");
      const events: string[] = [];
      pool.events.on("snapshot-invalidated", (e) => events.push(e.snapshot));
      const gate = new Gate();
      storage.hooks = {
        write: async (name) => {
          if (!name.endsWith(".cow")) return;
          await gate.wait();
          throw errno("ENOSPC");
        },
      };
      await vol.write(vol.admit(0, CS), pattern(2, CS)); // acknowledged with the copy write held
      expect(events).toEqual([]);
      gate.release();
      await vol.flush(); // ENOSPC is not a lost write: the snapshot pays, not the volume
      expect(events).toEqual(["s"]);
      expect(vol.listSnapshots()[0]?.valid).toBe(false);
      expect((await vol.read(0, CS)).equals(pattern(2, CS))).toBe(true);
      expect(vol.stats()).toMatchObject({ cowCopies: 0, writeBackErrors: 0 });
      await pool.close();
    });
  });

  it("a rollback issued while a first write's copy is still in its tail restores that chunk too", async () => {
    await withTempDir(async (dir) => {
      const storage = new HookedStorage(dir, {});
      const pool = await openPool({ dir, chunkSize: CS, storage });
      const vol = await pool.createVolume("v", { sizeBytes: 16 * CS });
      const good = pattern(1, 4 * CS);
      await vol.write(vol.admit(0, good.length), good);
      await vol.createSnapshot("good");
      await vol.write(vol.admit(0, CS), pattern(2, CS)); // chunk 0 preserved before the rollback
      const gate = new Gate();
      storage.hooks = { write: (name) => (name.endsWith(".cow") ? gate.wait() : undefined) };
      // Chunk 2: acknowledged, its copy held, so "good"'s table lacks it when the rollback starts.
      await vol.write(vol.admit(2 * CS, CS), pattern(3, CS));
      const rb = vol.rollback("good");
      const rbDone = settled(rb);
      await sleep(40);
      expect(rbDone()).toBe(false);
      gate.release();
      await rb;
      storage.hooks = {};
      expect((await vol.read(0, 4 * CS)).equals(good)).toBe(true);
      await vol.flush();
      await pool.close();
      const again = await openPool({ dir });
      expect((await again.getVolume("v").read(0, 4 * CS)).equals(good)).toBe(true);
      await again.close();
    });
  });

  it("flush() and FUA writes wait for every tail acknowledged before them", async () => {
    await withTempDir(async (dir) => {
      const storage = new HookedStorage(dir, {});
      const pool = await openPool({ dir, chunkSize: CS, storage });
      const vol = await pool.createVolume("v", { sizeBytes: 16 * CS });
      await vol.write(vol.admit(0, 16 * CS), pattern(1, 16 * CS));
      await vol.createSnapshot("s");
      const gate = new Gate();
      // Hold the origin overwrites of chunks 0..3 (the tails), not the FUA write's chunk 8.
      storage.hooks = {
        write: (name, pos) => (name.endsWith(".img") && pos < 4 * CS ? gate.wait() : undefined),
      };
      const data = [0, 1, 2, 3].map((i) => pattern(10 + i, CS));
      await Promise.all(data.map((d, i) => vol.write(vol.admit(i * CS, CS), d)));
      const flush = vol.flush();
      const flushDone = settled(flush);
      const fua = vol.write(vol.admit(8 * CS, CS), pattern(20, CS), { fua: true });
      const fuaDone = settled(fua);
      await sleep(60);
      expect(gate.held).toBe(4);
      expect(flushDone()).toBe(false);
      expect(fuaDone()).toBe(false);
      gate.release();
      await flush;
      await fua;
      // Durable content is on disk: compare the origin file itself.
      for (const [i, d] of data.entries())
        expect((await originOnDisk(dir, vol, i * CS, CS)).equals(d)).toBe(true);
      expect((await originOnDisk(dir, vol, 8 * CS, CS)).equals(pattern(20, CS))).toBe(true);
      expect((await vol.getSnapshot("s").read(0, 16 * CS)).equals(pattern(1, 16 * CS))).toBe(true);
      await pool.close();
    });
  });

  it("an EIO in a background tail surfaces at the next flush (once), is logged and counted", async () => {
    await withTempDir(async (dir) => {
      const storage = new HookedStorage(dir, {});
      const logged: object[] = [];
      const logger = { info() {}, warn() {}, error: (o: object) => logged.push(o) };
      const pool = await openPool({ dir, chunkSize: CS, storage, logger });
      const vol = await pool.createVolume("v", { sizeBytes: 16 * CS });
      const old = pattern(1, 2 * CS);
      await vol.write(vol.admit(0, old.length), old);
      await vol.createSnapshot("s");
      storage.hooks = { write: (name) => (name.endsWith(".img") ? Promise.reject(errno("EIO")) : undefined) };
      await vol.write(vol.admit(0, CS), pattern(2, CS)); // acknowledged: write-back
      await expect(vol.flush()).rejects.toMatchObject({ code: "io-error" });
      expect(vol.stats().writeBackErrors).toBe(1);
      expect(logged).toContainEqual(expect.objectContaining({ volume: "v", offset: 0, code: "io-error" }));
      storage.hooks = {};
      await vol.flush(); // reported once, like errseq
      // The lost write left the old data; its COW copy is there; the chunk is usable again.
      expect((await vol.read(0, 2 * CS)).equals(old)).toBe(true);
      expect((await vol.getSnapshot("s").read(0, 2 * CS)).equals(old)).toBe(true);
      await vol.write(vol.admit(0, CS), pattern(3, CS));
      expect((await vol.read(0, CS)).equals(pattern(3, CS))).toBe(true);
      await vol.flush();
      await pool.close();
    });
  });

  it("close() waits for every tail; the data is there after reopening", async () => {
    await withTempDir(async (dir) => {
      const storage = new HookedStorage(dir, {});
      const pool = await openPool({ dir, chunkSize: CS, storage });
      const vol = await pool.createVolume("v", { sizeBytes: 16 * CS });
      await vol.write(vol.admit(0, 4 * CS), pattern(1, 4 * CS));
      await vol.createSnapshot("s");
      const gate = new Gate();
      storage.hooks = { write: (name) => (name.endsWith(".img") ? gate.wait() : undefined) };
      await vol.write(vol.admit(CS, CS), pattern(2, CS));
      const close = pool.close();
      const closeDone = settled(close);
      await sleep(40);
      expect(closeDone()).toBe(false);
      gate.release();
      await close;
      const again = await openPool({ dir });
      const v = again.getVolume("v");
      expect((await v.read(CS, CS)).equals(pattern(2, CS))).toBe(true);
      expect((await v.getSnapshot("s").read(0, 4 * CS)).equals(pattern(1, 4 * CS))).toBe(true);
      await again.close();
    });
  });

  it("bounds the tails: beyond the cap a write waits for its own commit", async () => {
    await withTempDir(async (dir) => {
      const storage = new HookedStorage(dir, {});
      const chunks = 300;
      const p2 = await openPool({ dir, chunkSize: 512, storage });
      const vol = await p2.createVolume("v", { sizeBytes: chunks * 512 });
      await vol.write(vol.admit(0, chunks * 512), pattern(1, chunks * 512));
      await vol.createSnapshot("s");
      const gate = new Gate();
      storage.hooks = { sync: (name) => (name.startsWith("log-") ? gate.wait() : undefined) };
      const probes = Array.from({ length: chunks }, (_, i) =>
        settled(vol.write(vol.admit(i * 512, 512), pattern(100 + i, 512))),
      );
      const acked = (): number => probes.filter((done) => done()).length;
      for (let waited = 0; acked() < 256 && waited < 5000; waited += 20) await sleep(20);
      await sleep(50);
      expect(acked()).toBe(256);
      gate.release();
      await vol.flush();
      expect(probes.every((done) => done())).toBe(true);
      for (let i = 0; i < chunks; i += 37) {
        expect((await vol.read(i * 512, 512)).equals(pattern(100 + i, 512))).toBe(true);
      }
      await p2.close();
    });
  });

  it("bounds the bytes held by tails (32 MiB, data and old chunks): beyond them a write waits for its commit", async () => {
    await withTempDir(async (dir) => {
      const storage = new HookedStorage(dir, {});
      const MiB = 1 << 20;
      const count = 18;
      const pool = await openPool({ dir, chunkSize: MiB, storage });
      const vol = await pool.createVolume("v", { sizeBytes: count * MiB });
      for (let i = 0; i < count; i++) await vol.write(vol.admit(i * MiB, MiB), pattern(i, MiB));
      await vol.createSnapshot("s");
      const gate = new Gate();
      storage.hooks = { sync: (name) => (name.startsWith("log-") ? gate.wait() : undefined) };
      const data = Buffer.alloc(MiB, 0x5a);
      const probes = Array.from({ length: count }, (_, i) =>
        settled(vol.write(vol.admit(i * MiB, MiB), data)),
      );
      const acked = (): number => probes.filter((done) => done()).length;
      // Each tail holds 1 MiB of data and the 1 MiB old chunk it has still to preserve.
      for (let waited = 0; acked() < 16 && waited < 10000; waited += 20) await sleep(20);
      await sleep(100);
      expect(acked()).toBe(16);
      gate.release();
      await vol.flush();
      expect(acked()).toBe(count);
      expect((await vol.getSnapshot("s").read(17 * MiB, MiB)).equals(pattern(17, MiB))).toBe(true);
      expect((await vol.read(17 * MiB, MiB)).equals(data)).toBe(true);
      await pool.close();
    });
  });
});
