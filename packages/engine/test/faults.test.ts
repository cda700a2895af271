// Fault injection: ENOSPC, EFBIG and EIO from the storage under the engine.
import { statfs } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { type EngineError, openPool } from "../src/index.js";
import { pattern, withTempDir } from "./helpers.js";
import { errno, HookedStorage } from "./hooked-storage.js";

const CS = 4096;

describe("fault injection", () => {
  it("COW store full (ENOSPC): the snapshot is invalidated with an event and a log line, the origin keeps working", async () => {
    await withTempDir(async (dir) => {
      const storage = new HookedStorage(dir, {});
      const logged: string[] = [];
      const logger = { info() {}, warn() {}, error: (_o: object, msg?: string) => logged.push(msg ?? "") };
      const pool = await openPool({ dir, chunkSize: CS, storage, logger });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * 1024 });
      const old = pattern(1, 4 * CS);
      await vol.write(vol.admit(0, old.length), old);
      await vol.createSnapshot("older");
      await vol.write(vol.admit(0, CS), pattern(2, CS));
      await vol.createSnapshot("s");
      const events: string[] = [];
      pool.events.on("snapshot-invalidated", (e) => events.push(`${e.snapshot}:${e.reason}`));
      storage.hooks = {
        write: (name) => (name.endsWith(".cow") ? Promise.reject(errno("ENOSPC")) : undefined),
      };
      const fresh = pattern(3, CS);
      await vol.write(vol.admit(CS, CS), fresh);
      expect((await vol.read(CS, CS)).equals(fresh)).toBe(true);
      expect(events.sort()).toEqual(["older:COW store full", "s:COW store full"]);
      expect(logged.some((m) => m.includes("invalidated"))).toBe(true);
      const info = vol.listSnapshots().find((s) => s.name === "s");
      expect(info?.valid).toBe(false);
      await expect(vol.getSnapshot("s").read(0, CS)).rejects.toMatchObject({ code: "snapshot-invalid" });
      // Writes go on without COW into the invalid snapshot; the invalid mark survives a reopen.
      storage.hooks = {};
      await vol.write(vol.admit(2 * CS, CS), pattern(4, CS));
      await pool.close();
      const again = await openPool({ dir, chunkSize: CS });
      expect(
        again
          .getVolume("v")
          .listSnapshots()
          .map((s) => s.valid),
      ).toEqual([false, false]);
      // A snapshot taken afterwards is valid and works.
      const v2 = again.getVolume("v");
      await v2.createSnapshot("after");
      await v2.write(v2.admit(0, CS), pattern(5, CS));
      expect((await v2.getSnapshot("after").read(0, CS)).equals(pattern(2, CS))).toBe(true);
      await again.close();
    });
  });

  it("a volume larger than the file system's largest file is refused at create and at grow, with nothing lost", async () => {
    await withTempDir(async (dir) => {
      // A file system whose largest file is 1 MiB (as ext4's is just under 16 TiB).
      const limit = 1 << 20;
      const storage = new HookedStorage(dir, {
        truncate: (_name, size) => (size > limit ? Promise.reject(errno("EFBIG")) : undefined),
      });
      const pool = await openPool({ dir, chunkSize: CS, storage });
      const err = await pool.createVolume("big", { sizeBytes: 2 * limit }).catch((e: EngineError) => e);
      expect(err).toMatchObject({ code: "invalid-argument" });
      expect((err as EngineError).message).toMatch(/larger than the largest file/);
      // No volume, no file left behind; the name is free for a size that fits.
      expect(pool.listVolumes().map((v) => v.name)).toEqual([]);
      expect((await storage.list()).filter((n) => n.endsWith(".img"))).toEqual([]);
      const vol = await pool.createVolume("big", { sizeBytes: limit });
      const last = pattern(1, CS);
      await vol.write(vol.admit(limit - CS, CS), last);
      await expect(vol.resize(2 * limit)).rejects.toMatchObject({ code: "invalid-argument" });
      expect(vol.info.sizeBytes).toBe(limit);
      expect((await vol.read(limit - CS, CS)).equals(last)).toBe(true);
      await pool.close();
      const again = await openPool({ dir, chunkSize: CS });
      expect(again.getVolume("big").info.sizeBytes).toBe(limit);
      await again.close();
    });
  });

  it("on the real file system here: a 16 TiB volume either works to its last block or is refused at create (ext4)", async () => {
    await withTempDir(async (dir) => {
      const EXT4_MAGIC = 0xef53;
      const ext4 = (await statfs(dir)).type === EXT4_MAGIC;
      const pool = await openPool({ dir, chunkSize: CS });
      const size = 16 * 1024 ** 4;
      if (ext4) {
        await expect(pool.createVolume("v", { sizeBytes: size })).rejects.toMatchObject({
          code: "invalid-argument",
        });
        // Just under the cap fits, to its last block.
        const vol = await pool.createVolume("v", { sizeBytes: size - 1024 ** 3 });
        const tail = pattern(2, CS);
        await vol.write(vol.admit(vol.info.sizeBytes - CS, CS), tail, { fua: true });
        expect((await vol.read(vol.info.sizeBytes - CS, CS)).equals(tail)).toBe(true);
      } else {
        const vol = await pool.createVolume("v", { sizeBytes: size });
        const tail = pattern(2, CS);
        await vol.write(vol.admit(size - CS, CS), tail, { fua: true });
        expect((await vol.read(size - CS, CS)).equals(tail)).toBe(true);
      }
      await pool.close();
    });
  });

  it("EFBIG from the COW store (its file at the file system's largest size) is a full store: the snapshot is invalidated", async () => {
    await withTempDir(async (dir) => {
      const storage = new HookedStorage(dir, {});
      const pool = await openPool({ dir, chunkSize: CS, storage });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * 1024 });
      await vol.write(vol.admit(0, CS), pattern(1, CS));
      await vol.createSnapshot("s");
      storage.hooks = {
        write: (name) => (name.endsWith(".cow") ? Promise.reject(errno("EFBIG")) : undefined),
      };
      await vol.write(vol.admit(0, CS), pattern(2, CS), { fua: true });
      expect(vol.listSnapshots()[0]?.valid).toBe(false);
      expect((await vol.read(0, CS)).equals(pattern(2, CS))).toBe(true);
      await pool.close();
    });
  });

  it("a COW store capacity limit behaves like ENOSPC", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: CS, cowStoreLimitBytes: 2 * CS });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * 1024 });
      await vol.write(vol.admit(0, 4 * CS), pattern(1, 4 * CS));
      await vol.createSnapshot("s");
      await vol.write(vol.admit(0, 2 * CS), pattern(2, 2 * CS));
      expect(vol.listSnapshots()[0]?.valid).toBe(true);
      await vol.write(vol.admit(2 * CS, CS), pattern(3, CS));
      // A write-back write stores its copy in the background: the invalidation is certain once a
      // flush has waited for that tail.
      await vol.flush();
      expect(vol.listSnapshots()[0]?.valid).toBe(false);
      expect((await vol.read(2 * CS, CS)).equals(pattern(3, CS))).toBe(true);
      await pool.close();
    });
  });

  it("EIO on the origin surfaces as io-error and loses nothing already written", async () => {
    await withTempDir(async (dir) => {
      const storage = new HookedStorage(dir, {});
      const pool = await openPool({ dir, chunkSize: CS, storage });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * 1024 });
      const good = pattern(1, CS);
      await vol.write(vol.admit(0, CS), good);
      storage.hooks = { write: (name) => (name.endsWith(".img") ? Promise.reject(errno("EIO")) : undefined) };
      await expect(vol.write(vol.admit(0, CS), pattern(2, CS))).rejects.toMatchObject({ code: "io-error" });
      storage.hooks = { read: (name) => (name.endsWith(".img") ? Promise.reject(errno("EIO")) : undefined) };
      const err = (await vol.read(0, CS).catch((e: unknown) => e)) as EngineError;
      expect(err.code).toBe("io-error");
      storage.hooks = {};
      // The failed write released its chunk: later writes and reads proceed.
      expect((await vol.read(0, CS)).equals(good)).toBe(true);
      await vol.write(vol.admit(0, CS), pattern(3, CS));
      expect((await vol.read(0, CS)).equals(pattern(3, CS))).toBe(true);
      await pool.close();
    });
  });

  it("EIO on the COW store: a FUA write fails, a write-back write reports it at the next flush; never an overwrite without its copy", async () => {
    await withTempDir(async (dir) => {
      const storage = new HookedStorage(dir, {});
      const pool = await openPool({ dir, chunkSize: CS, storage });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * 1024 });
      const old = pattern(1, CS);
      await vol.write(vol.admit(0, CS), old);
      await vol.createSnapshot("s");
      storage.hooks = { write: (name) => (name.endsWith(".cow") ? Promise.reject(errno("EIO")) : undefined) };
      await expect(vol.write(vol.admit(0, CS), pattern(2, CS), { fua: true })).rejects.toMatchObject({
        code: "io-error",
      });
      expect((await vol.read(0, CS)).equals(old)).toBe(true);
      expect((await vol.getSnapshot("s").read(0, CS)).equals(old)).toBe(true);
      // Without FUA the copy is written after the acknowledgement, in the background tail.
      await vol.write(vol.admit(0, CS), pattern(2, CS));
      await expect(vol.flush()).rejects.toMatchObject({ code: "io-error" });
      expect(vol.stats().writeBackErrors).toBe(1);
      expect((await vol.read(0, CS)).equals(old)).toBe(true);
      expect((await vol.getSnapshot("s").read(0, CS)).equals(old)).toBe(true);
      storage.hooks = {};
      await vol.write(vol.admit(0, CS), pattern(2, CS));
      expect((await vol.getSnapshot("s").read(0, CS)).equals(old)).toBe(true);
      await pool.close();
    });
  });

  it("EIO on the metadata log fsync: a FUA write fails, a write-back write reports it at the next flush; the origin is never touched", async () => {
    await withTempDir(async (dir) => {
      const storage = new HookedStorage(dir, {});
      const logged: string[] = [];
      const logger = { info() {}, warn() {}, error: (_o: object, msg?: string) => logged.push(msg ?? "") };
      const pool = await openPool({ dir, chunkSize: CS, storage, logger });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * 1024 });
      const old = pattern(1, 2 * CS);
      await vol.write(vol.admit(0, old.length), old);
      await vol.createSnapshot("s");
      storage.hooks = {
        sync: (name) => (name.startsWith("log-") ? Promise.reject(errno("EIO")) : undefined),
      };
      // FUA keeps the synchronous path: the commit failure is the write's own error.
      await expect(vol.write(vol.admit(0, CS), pattern(2, CS), { fua: true })).rejects.toMatchObject({
        code: "io-error",
      });
      // Write-back: acknowledged once the copy is written; the failed commit stops the overwrite.
      await vol.write(vol.admit(CS, CS), pattern(3, CS));
      expect((await vol.read(0, 2 * CS)).equals(old)).toBe(true);
      expect(vol.stats().writeBackErrors).toBe(1);
      expect(logged.some((m) => m.includes("write-back"))).toBe(true);
      storage.hooks = {};
      await expect(vol.flush()).rejects.toMatchObject({ code: "io-error" });
      // Reported once; the records kept for the next round are now durable.
      await vol.flush();
      expect((await vol.getSnapshot("s").read(0, 2 * CS)).equals(old)).toBe(true);
      await pool.close();
    });
  });
});
