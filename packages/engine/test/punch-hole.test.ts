// Space goes back to the file system: UNMAP of whole chunks punches holes in the origin, a deleted
// snapshot's COW slots are punched out of the store. Measured with st_blocks on real files. The
// native binary must be built (the package build compiles it): a missing one fails here, loudly,
// instead of silently zero-filling everywhere.
import { openSync, readdirSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type BlockStorage, FsBlockStorage, openPool } from "../src/index.js";
import { nativePunchHole } from "../src/punch-hole.js";
import { pattern, withTempDir } from "./helpers.js";

const MiB = 1024 * 1024;

function allocated(dir: string, suffix: string): number {
  const name = readdirSync(dir).find((f) => f.endsWith(suffix));
  if (!name) throw new Error(`no ${suffix} file in ${dir}`);
  return statSync(join(dir, name)).blocks * 512;
}

/** The same files without punchHole: what a build without the native binary does. */
function withoutHoles(dir: string): BlockStorage {
  const inner = new FsBlockStorage(dir);
  return {
    open: async (name) => {
      const f = await inner.open(name);
      return {
        read: (buf, pos) => f.read(buf, pos),
        write: (data, pos) => f.write(data, pos),
        sync: () => f.sync(),
        size: () => f.size(),
        truncate: (n) => f.truncate(n),
        close: () => f.close(),
      };
    },
    list: () => inner.list(),
    remove: (n) => inner.remove(n),
    rename: (a, b) => inner.rename(a, b),
  };
}

describe("hole punching", () => {
  it("the native binary is built and loads", () => {
    expect(nativePunchHole()).not.toBeNull();
  });

  it("a block file punches a hole: blocks freed, zeros read, the rest intact", async () => {
    await withTempDir(async (dir) => {
      const fd = openSync(join(dir, "f"), "w");
      writeSync(fd, pattern(1, 2 * MiB), 0, 2 * MiB, 0);
      const storage = new FsBlockStorage(dir);
      const f = await storage.open("f");
      await f.sync();
      const before = statSync(join(dir, "f")).blocks * 512;
      expect(await f.punchHole?.(MiB / 2, MiB)).toBe(true);
      await f.sync();
      expect(before - statSync(join(dir, "f")).blocks * 512).toBeGreaterThanOrEqual(MiB - 64 * 1024);
      const back = Buffer.alloc(2 * MiB);
      await f.read(back, 0);
      const want = pattern(1, 2 * MiB);
      want.fill(0, MiB / 2, MiB / 2 + MiB);
      expect(back.equals(want)).toBe(true);
      expect(await f.size()).toBe(2 * MiB);
      await f.close();
      await expect(f.punchHole?.(0, 4096) ?? Promise.resolve(true)).rejects.toMatchObject({ code: "EBADF" });
    });
  });

  it("UNMAP gives a volume's blocks back, keeps a snapshot's data, and reads zeros", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: 4096 });
      const vol = await pool.createVolume("v", { sizeBytes: 8 * MiB, blockSize: 512 });
      const data = pattern(2, 4 * MiB);
      await vol.write(vol.admit(0, data.length), data);
      await vol.flush();
      await vol.createSnapshot("s");
      const before = allocated(dir, ".img");
      // Whole chunks [4 KiB, 3 MiB + 4 KiB) and partial chunks at both edges.
      await vol.unmap(vol.admit(4096 - 512, 3 * MiB + 1024));
      await vol.flush();
      expect(before - allocated(dir, ".img")).toBeGreaterThanOrEqual(3 * MiB - 64 * 1024);
      const live = await vol.read(0, data.length);
      const want = Buffer.from(data);
      want.fill(0, 4096 - 512, 4096 + 3 * MiB + 512);
      expect(live.equals(want)).toBe(true);
      expect((await vol.getSnapshot("s").read(0, data.length)).equals(data)).toBe(true);
      await pool.close();
    });
  });

  it("deleting a snapshot punches its COW slots out of the store", async () => {
    await withTempDir(async (dir) => {
      let pool = await openPool({ dir, chunkSize: 4096 });
      const vol = await pool.createVolume("v", { sizeBytes: 8 * MiB, blockSize: 512 });
      await vol.write(vol.admit(0, 4 * MiB), pattern(3, 4 * MiB));
      await vol.createSnapshot("s");
      await vol.write(vol.admit(0, 4 * MiB), pattern(4, 4 * MiB));
      await vol.flush();
      const stored = allocated(dir, ".cow");
      expect(stored).toBeGreaterThanOrEqual(4 * MiB);
      await vol.deleteSnapshot("s");
      await pool.close(); // waits for the background punches
      expect(allocated(dir, ".cow")).toBeLessThan(64 * 1024);
      // The freed slots are reused by the next snapshot's copies.
      pool = await openPool({ dir, chunkSize: 4096 });
      const again = pool.getVolume("v");
      await again.createSnapshot("t");
      await again.write(again.admit(0, MiB), pattern(5, MiB));
      expect((await again.getSnapshot("t").read(0, MiB)).equals(pattern(4, 4 * MiB).subarray(0, MiB))).toBe(
        true,
      );
      await pool.close();
    });
  });

  it("without holes, UNMAP zero-fills the same bytes", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: 4096, storage: withoutHoles(dir) });
      const vol = await pool.createVolume("v", { sizeBytes: 4 * MiB, blockSize: 512 });
      const data = pattern(6, 2 * MiB);
      await vol.write(vol.admit(0, data.length), data);
      await vol.unmap(vol.admit(0, MiB));
      await vol.flush();
      const live = await vol.read(0, data.length);
      expect(live.subarray(0, MiB).every((b) => b === 0)).toBe(true);
      expect(live.subarray(MiB).equals(data.subarray(MiB))).toBe(true);
      expect(vol.lbaStatus(0, MiB)).toEqual([{ offset: 0, length: MiB, mapped: false }]);
      await pool.close();
    });
  });
});
