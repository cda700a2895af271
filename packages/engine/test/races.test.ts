// Hazard cases of live snapshots, each forced deterministically (slow storage widens windows).
import { describe, expect, it } from "vitest";
import { EngineError, openPool } from "../src/index.js";
import { pattern, withTempDir } from "./helpers.js";
import { HookedStorage, sleep } from "./hooked-storage.js";

const CS = 4096;

async function ticks(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

describe("live-snapshot races", () => {
  it("a pre-snapshot write whose data arrives after a post-snapshot write belongs to the snapshot", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: CS });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * 1024 });
      const before = pattern(1, CS);
      const after = pattern(2, 512);
      const t1 = vol.admit(0, CS); // admitted, data not yet here
      await vol.createSnapshot("s"); // no drain: resolves while t1 waits for data
      const t2 = vol.admit(512, 512); // same chunk, admitted later
      let t2done = false;
      const p2 = vol.write(t2, after).then(() => {
        t2done = true;
      });
      await ticks();
      expect(t2done, "later write must wait for the earlier-admitted one on its chunk").toBe(false);
      await vol.write(t1, before);
      await p2;
      const snap = await vol.getSnapshot("s").read(0, CS);
      expect(snap.equals(before)).toBe(true);
      const live = await vol.read(0, CS);
      const want = Buffer.from(before);
      after.copy(want, 512);
      expect(live.equals(want)).toBe(true);
      // Reads never wait for a write that is still waiting for its data.
      const t3 = vol.admit(0, 512);
      await expect(vol.read(0, CS)).resolves.toHaveLength(CS);
      vol.cancel(t3);
      await pool.close();
    });
  });

  it("snapshot reads racing the COW of their chunk always see the preserved content", async () => {
    await withTempDir(async (dir) => {
      const storage = new HookedStorage(dir, {});
      const pool = await openPool({ dir, chunkSize: CS, storage });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * 1024 });
      const old = pattern(3, CS * 2);
      await vol.write(vol.admit(0, CS * 2), old);
      await vol.createSnapshot("s");
      storage.hooks = {
        write: (name) => (name.endsWith(".img") || name.endsWith(".cow") ? sleep(3) : undefined),
      };
      const reader = vol.getSnapshot("s");
      const writes = [0, 1, 0, 1].map((i, k) => vol.write(vol.admit(i * CS, CS), pattern(10 + k, CS)));
      const reads = Array.from({ length: 40 }, (_, k) => sleep(k % 7).then(() => reader.read(0, CS * 2)));
      for (const r of await Promise.all(reads)) expect(r.equals(old)).toBe(true);
      await Promise.all(writes);
      expect((await reader.read(0, CS * 2)).equals(old)).toBe(true);
      expect(vol.stats().cowCopies).toBe(2);
      await pool.close();
    });
  });

  it("concurrent writers to one chunk land in admission order whatever order their data arrives", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: CS });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * 1024 });
      const admitOne = (i: number) => {
        const off = ((i * 3) % 7) * 512;
        return { t: vol.admit(off, 1024), data: pattern(100 + i, 1024) };
      };
      // 16 writers admitted, then a snapshot (stamped synchronously), then 16 more on the same chunk.
      const created = Array.from({ length: 16 }, (_, i) => admitOne(i));
      const snapP = vol.createSnapshot("mid");
      const tickets = [...created, ...Array.from({ length: 16 }, (_, i) => admitOne(16 + i))];
      const later = Array.from({ length: 8 }, (_, i) => ({
        t: vol.admit(i * 512, 512),
        data: pattern(200 + i, 512),
      }));
      await snapP;
      const all = [...tickets, ...later];
      const shuffled = [...all].sort((a, b) => ((a.t.seq * 7919) % 31) - ((b.t.seq * 7919) % 31));
      await Promise.all(shuffled.map((x) => vol.write(x.t, x.data)));
      const expectLive = Buffer.alloc(CS);
      for (const x of [...all].sort((a, b) => a.t.seq - b.t.seq)) x.data.copy(expectLive, x.t.offset);
      const expectSnap = Buffer.alloc(CS);
      for (const x of created) x.data.copy(expectSnap, x.t.offset);
      expect((await vol.read(0, CS)).equals(expectLive)).toBe(true);
      expect((await vol.getSnapshot("mid").read(0, CS)).equals(expectSnap)).toBe(true);
      await pool.close();
    });
  });

  it("unmap of a chunk shared with a snapshot preserves it first", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: CS });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * 1024 });
      const data = pattern(5, CS * 3);
      await vol.write(vol.admit(0, CS * 3), data);
      await vol.createSnapshot("s");
      await vol.unmap(vol.admit(CS, CS * 2));
      expect((await vol.getSnapshot("s").read(0, CS * 3)).equals(data)).toBe(true);
      const live = await vol.read(0, CS * 3);
      expect(live.subarray(0, CS).equals(data.subarray(0, CS))).toBe(true);
      expect(live.subarray(CS).every((b) => b === 0)).toBe(true);
      expect(vol.lbaStatus(0, CS * 3)).toEqual([
        { offset: 0, length: CS, mapped: true },
        { offset: CS, length: CS * 2, mapped: false },
      ]);
      expect(vol.getSnapshot("s").lbaStatus(0, CS * 3)).toEqual([
        { offset: 0, length: CS * 3, mapped: true },
      ]);
      expect(vol.info.allocatedBytes).toBe(CS);
      await pool.close();
    });
  });

  it("delete while reading: reads already running finish with the right data, later ones are refused", async () => {
    await withTempDir(async (dir) => {
      const storage = new HookedStorage(dir, {});
      const pool = await openPool({ dir, chunkSize: CS, storage });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * 1024 });
      const v1 = pattern(7, 16 * 1024);
      await vol.write(vol.admit(0, v1.length), v1);
      await vol.createSnapshot("old");
      const v2 = pattern(8, 16 * 1024);
      await vol.write(vol.admit(0, v2.length), v2);
      await vol.createSnapshot("mid");
      await vol.write(vol.admit(0, v2.length), pattern(9, 16 * 1024));
      storage.hooks = { read: (name) => (name.endsWith(".cow") ? sleep(5) : undefined) };
      const mid = vol.getSnapshot("mid");
      const reads = Array.from({ length: 8 }, () => mid.read(0, v2.length));
      const oldReads = Array.from({ length: 8 }, () => vol.getSnapshot("old").read(0, v1.length));
      const del = vol.deleteSnapshot("mid");
      for (const r of await Promise.all(reads)) expect(r.equals(v2)).toBe(true);
      await del;
      for (const r of await Promise.all(oldReads)) expect(r.equals(v1)).toBe(true);
      await expect(mid.read(0, 4096)).rejects.toMatchObject({ code: "not-found" });
      expect(() => vol.getSnapshot("mid")).toThrow(EngineError);
      // "old" inherited mid's entries where it had none; its own content is untouched.
      expect((await vol.getSnapshot("old").read(0, v1.length)).equals(v1)).toBe(true);
      await pool.close();
    });
  });

  it("cancel never wedges the chunk, and snapshots never wait for data", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: CS });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * 1024 });
      const stuck = vol.admit(0, CS * 2);
      const w = vol.write(vol.admit(CS, 512), pattern(1, 512));
      const info = await vol.createSnapshot("while-stuck");
      expect(info.seq).toBeGreaterThan(stuck.seq);
      await ticks();
      vol.cancel(stuck);
      await w;
      vol.cancel(stuck); // idempotent
      await expect(vol.write(stuck, Buffer.alloc(CS * 2))).rejects.toMatchObject({
        code: "invalid-argument",
      });
      expect((await vol.read(CS, 512)).equals(pattern(1, 512))).toBe(true);
      await pool.close();
    });
  });

  it("close never hangs on a ticket whose data never came: queued writes fail with closed", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: CS });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * 1024 });
      vol.admit(0, CS); // never executed, never cancelled
      const queued = vol.write(vol.admit(0, 512), pattern(1, 512)).catch((e: unknown) => e);
      const done = vol.write(vol.admit(CS, 512), pattern(2, 512));
      await done;
      await pool.close();
      expect(await queued).toMatchObject({ code: "closed" });
      const again = await openPool({ dir });
      expect((await again.getVolume("v").read(CS, 512)).equals(pattern(2, 512))).toBe(true);
      await again.close();
    });
  });

  it("rollback is stamped like a write: earlier-admitted writes land under it, later ones on top", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: CS });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * 1024 });
      const good = pattern(1, 4 * CS);
      await vol.write(vol.admit(0, good.length), good);
      await vol.createSnapshot("good");
      await vol.write(vol.admit(0, good.length), pattern(2, 4 * CS));
      const before = vol.admit(0, 512); // admitted before the rollback, data comes later
      const rb = vol.rollback("good");
      const after = vol.admit(CS, 512); // admitted after the rollback stamp
      const afterData = pattern(3, 512);
      await vol.write(after, afterData);
      // Live reads already see the snapshot where nothing newer landed.
      expect((await vol.read(2 * CS, CS)).equals(good.subarray(2 * CS, 3 * CS))).toBe(true);
      await vol.write(before, pattern(4, 512));
      await rb;
      const want = Buffer.from(good);
      afterData.copy(want, CS);
      expect((await vol.read(0, 4 * CS)).equals(want)).toBe(true);
      await pool.close();
    });
  });
});
