// FsBlockFile works on raw fds: short reads at the end of the file, explicit close that waits for
// the calls in flight, and no use of a closed (possibly reused) fd number.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FsBlockStorage } from "../src/index.js";
import { pattern, withTempDir } from "./helpers.js";

describe("FsBlockFile on raw fds", () => {
  it("reads short at end of file, closes after in-flight writes, rejects calls after close", async () => {
    await withTempDir(async (dir) => {
      const storage = new FsBlockStorage(dir);
      const f = await storage.open("f");
      const data = pattern(7, 64 * 1024);
      await f.write(data, 4096);
      expect(await f.size()).toBe(4096 + data.length);
      const buf = Buffer.alloc(8192, 0xee);
      expect(await f.read(buf, 4096 + data.length - 1000)).toBe(1000);
      expect(buf.subarray(0, 1000).equals(data.subarray(data.length - 1000))).toBe(true);
      expect(await f.read(Buffer.alloc(10), 1 << 30)).toBe(0);
      // Writes in flight when close() is called still complete and land in the file.
      const writes = Array.from({ length: 16 }, (_, i) => f.write(pattern(100 + i, 4096), i * 4096));
      const closed = f.close();
      await Promise.all(writes);
      await closed;
      await expect(f.read(Buffer.alloc(16), 0)).rejects.toMatchObject({ code: "EBADF" });
      await expect(f.write(Buffer.alloc(16), 0)).rejects.toMatchObject({ code: "EBADF" });
      await expect(f.sync()).rejects.toMatchObject({ code: "EBADF" });
      await f.close(); // twice is harmless
      const onDisk = await readFile(join(dir, "f"));
      for (let i = 0; i < 16; i++) {
        expect(onDisk.subarray(i * 4096, (i + 1) * 4096).equals(pattern(100 + i, 4096))).toBe(true);
      }
      const g = await storage.open("f");
      await g.truncate(100);
      expect(await g.size()).toBe(100);
      await g.sync();
      await g.close();
    });
  });
});
