// Batching of one event-loop turn's I/Os into readv/writev runs: the grouping rule, and on real
// files that every merged I/O still lands (or reads) exactly what a single call would.
import { readFile, symlink } from "node:fs/promises";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FsBlockStorage } from "../src/index.js";
import { MAX_MERGED_IO, MAX_RUN_BUFFERS, toRuns } from "../src/io-runs.js";
import { pattern, withTempDir } from "./helpers.js";

const io = (position: number, length: number) => ({ position, buf: new Uint8Array(length) });

describe("toRuns", () => {
  it("merges adjacent ranges in file order and keeps gaps and overlaps apart", () => {
    const runs = toRuns([io(8192, 4096), io(0, 4096), io(4096, 4096), io(20000, 10), io(20005, 10)]);
    expect(runs.map((r) => r.map((x) => x.position))).toEqual([[0, 4096, 8192], [20000], [20005]]);
  });

  it("issues I/Os above MAX_MERGED_IO on their own", () => {
    const big = MAX_MERGED_IO + 512;
    const runs = toRuns([io(0, big), io(big, 4096), io(big + 4096, 4096), io(big + 8192, big)]);
    expect(runs.map((r) => r.map((x) => x.position))).toEqual([[0], [big, big + 4096], [big + 8192]]);
  });

  it("covers every I/O exactly once, each run contiguous and bounded", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ position: fc.nat(64), length: fc.integer({ min: 0, max: 8 }) }), {
          maxLength: 600,
        }),
        (specs) => {
          const ios = specs.map((s) => io(s.position * 8, s.length * 8));
          const runs = toRuns(ios);
          expect(runs.flat().length).toBe(ios.length);
          expect(new Set(runs.flat())).toEqual(new Set(ios));
          for (const run of runs) {
            expect(run.length).toBeLessThanOrEqual(MAX_RUN_BUFFERS);
            for (let i = 1; i < run.length; i++) {
              const prev = run[i - 1] as (typeof run)[number];
              expect((run[i] as (typeof run)[number]).position).toBe(prev.position + prev.buf.length);
            }
          }
        },
      ),
    );
  });
});

describe("FsBlockFile batching on a real file", () => {
  it("writes of one turn merged into writev land exactly; reads of one turn read exactly, short at EOF", async () => {
    await withTempDir(async (dir) => {
      const f = await new FsBlockStorage(dir).open("f");
      // 300 adjacent 4 KiB writes (more than one run), issued in shuffled order in one turn,
      // plus one isolated write far away.
      const order = Array.from({ length: 300 }, (_, i) => (i * 7) % 300);
      await Promise.all([
        ...order.map((i) => f.write(pattern(i, 4096), i * 4096)),
        f.write(pattern(999, 100), 10 << 20),
      ]);
      const disk = await readFile(join(dir, "f"));
      for (let i = 0; i < 300; i++) {
        expect(disk.subarray(i * 4096, (i + 1) * 4096).equals(pattern(i, 4096))).toBe(true);
      }
      expect(disk.subarray(10 << 20).equals(pattern(999, 100))).toBe(true);
      const end = (10 << 20) + 100;
      // Adjacent reads in one turn, the last ones crossing and past the end of the file.
      const bufs = Array.from({ length: 6 }, () => Buffer.alloc(64, 0xee));
      const got = await Promise.all(bufs.map((b, i) => f.read(b, end - 128 + i * 64)));
      expect(got).toEqual([64, 64, 0, 0, 0, 0]);
      expect(Buffer.concat(bufs.slice(0, 2)).equals(disk.subarray(end - 128, end))).toBe(true);
      // A run whose read ends inside its second buffer: that one is short, the rest zero bytes.
      const a = Buffer.alloc(60);
      const b = Buffer.alloc(60);
      const c = Buffer.alloc(60);
      expect(await Promise.all([f.read(a, end - 100), f.read(b, end - 40), f.read(c, end + 20)])).toEqual([
        60, 40, 0,
      ]);
      expect(Buffer.concat([a, b.subarray(0, 40)]).equals(disk.subarray(end - 100, end))).toBe(true);
      await f.close();
    });
  });

  it("a failing run rejects each of its I/Os; the file keeps working", async () => {
    await withTempDir(async (dir) => {
      // /dev/full: every write fails with ENOSPC, reads return zeros.
      await symlink("/dev/full", join(dir, "full"));
      const f = await new FsBlockStorage(dir).open("full");
      const results = await Promise.allSettled([
        f.write(pattern(1, 4096), 0),
        f.write(pattern(2, 4096), 4096),
      ]);
      expect(
        results.map((r) => (r.status === "rejected" ? (r.reason as { code?: string }).code : "ok")),
      ).toEqual(["ENOSPC", "ENOSPC"]);
      const buf = Buffer.alloc(4096, 0xee);
      expect(await f.read(buf, 0)).toBe(4096);
      expect(buf.every((x) => x === 0)).toBe(true);
      await f.close();
    });
  });
});
