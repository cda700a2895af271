// Group snapshots, block maps, changed chunks, resize, compare-and-write, rollback, 4 KiB
// logical blocks, events, validation, volume lifecycle, checkpoints.
import { cp, open, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EngineError, openPool, type PoolEvents } from "../src/index.js";
import { decodeRecords, FILE_HEADER } from "../src/records.js";
import { pattern, withTempDir } from "./helpers.js";

const CS = 4096;

describe("engine features", () => {
  it("group snapshot: one admission stamp across volumes, no pause", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: CS });
      const a = await pool.createVolume("a", { sizeBytes: 64 * 1024 });
      const b = await pool.createVolume("b", { sizeBytes: 64 * 1024, blockSize: 4096 });
      const ta = a.admit(0, CS); // in flight across the group snapshot: belongs to it
      const infos = await pool.createGroupSnapshot([
        { volume: "a", snapshot: "g" },
        { volume: "b", snapshot: "g" },
      ]);
      const tb = b.admit(0, CS); // after: not in it
      await Promise.all([a.write(ta, pattern(1, CS)), b.write(tb, pattern(2, CS))]);
      expect(infos[0]?.seq).toBe(infos[1]?.seq);
      expect(infos[0]?.group).toBeDefined();
      expect(infos[0]?.group).toBe(infos[1]?.group);
      expect((await a.getSnapshot("g").read(0, CS)).equals(pattern(1, CS))).toBe(true);
      expect((await b.getSnapshot("g").read(0, CS)).every((x) => x === 0)).toBe(true);
      await expect(
        pool.createGroupSnapshot([
          { volume: "a", snapshot: "h" },
          { volume: "b", snapshot: "g" },
        ]),
      ).rejects.toMatchObject({ code: "already-exists" });
      expect(a.listSnapshots().map((s) => s.name)).toEqual(["g"]);
      await pool.close();
    });
  });

  it("block map and changed chunks agree with a brute-force classification", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: CS });
      const chunks = 300;
      const vol = await pool.createVolume("v", { sizeBytes: chunks * CS });
      const wr = async (c: number, n: number, tag: number) =>
        vol.write(vol.admit(c * CS, n * CS), pattern(tag, n * CS));
      await wr(0, 100, 1);
      await vol.createSnapshot("s1");
      await wr(10, 20, 2);
      await wr(150, 10, 3);
      await vol.createSnapshot("s2");
      await wr(15, 30, 4);
      await vol.unmap(vol.admit(90 * CS, 10 * CS));
      const mapped = (c: number) => vol.lbaStatus(c * CS, CS)[0]?.mapped === true;
      const range = (from: number, n: number) => [...Array(n).keys()].map((i) => i + from);
      const s1 = new Set([...range(10, 20), ...range(150, 10)]);
      const s2 = new Set([...range(15, 30), ...range(90, 10)]);
      const origin = (c: number) => (mapped(c) ? "shared" : "unallocated");
      const bruteForce = (classes: string[], buckets: number, classify: (c: number) => string) => {
        const want = new Uint32Array(buckets * classes.length);
        for (let c = 0; c < chunks; c++) {
          const b = Math.floor((c * buckets) / chunks);
          const at = b * classes.length + classes.indexOf(classify(c));
          want[at] = (want[at] as number) + 1;
        }
        return [...want];
      };
      // Live view: a diverged chunk is attributed to the newest image holding a copy.
      const live = (c: number) => (s2.has(c) ? "preserved:s2" : s1.has(c) ? "preserved:s1" : origin(c));
      // Snapshot s1 reads its own image, then s2's, then the origin.
      const view1 = (c: number) => (s1.has(c) ? "preserved:s1" : s2.has(c) ? "preserved:s2" : origin(c));
      for (const buckets of [1, 7, 300, 1000]) {
        const m = vol.blockMap({ buckets });
        expect(m.classes).toEqual(["unallocated", "shared", "preserved:s2", "preserved:s1"]);
        expect([...m.counts]).toEqual(bruteForce(m.classes, buckets, live));
        const v = vol.blockMap({ view: "s1", buckets });
        expect(v.classes).toEqual(["unallocated", "shared", "preserved:s1", "preserved:s2"]);
        expect([...v.counts]).toEqual(bruteForce(v.classes, buckets, view1));
      }
      // Written since s1, live view.
      const w = vol.blockMap({ buckets: 1, since: "s1" });
      expect(w.classes.slice(0, 3)).toEqual(["unallocated", "shared", "written"]);
      expect(w.counts[2]).toBe(new Set([...s1, ...s2]).size);
      // A sub-range.
      const part = vol.blockMap({ start: 10 * CS, end: 20 * CS, buckets: 2 });
      expect(part.counts[2]).toBe(0 + 0);
      expect(part.counts[3] as number).toBe(5);
      expect(part.counts[4 + 2] as number).toBe(5);
      // Changed chunks between s1 and s2, and s1 to live.
      expect(vol.changedChunks("s1", "s2").ranges).toEqual([
        { offset: 10 * CS, length: 20 * CS },
        { offset: 150 * CS, length: 10 * CS },
      ]);
      expect(vol.changedChunks("s2").ranges).toEqual([
        { offset: 15 * CS, length: 30 * CS },
        { offset: 90 * CS, length: 10 * CS },
      ]);
      expect(vol.changedChunks("s1").ranges).toEqual([
        { offset: 10 * CS, length: 35 * CS },
        { offset: 90 * CS, length: 10 * CS },
        { offset: 150 * CS, length: 10 * CS },
      ]);
      expect(() => vol.changedChunks("s2", "s1")).toThrow(EngineError);
      expect(() => vol.blockMap({ buckets: 0 })).toThrow(EngineError);
      await pool.close();
    });
  });

  // Speed is the bench's business (block map of 16 TiB: ~20 ms); this checks the answers.
  it("block map, lbaStatus and unmap of a 16 TiB volume visit only populated regions", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: CS });
      const TiB = 1024 ** 4;
      // One chunk short of 16 TiB: ext4 (4 KiB blocks) holds no file of 16 TiB.
      const SIZE = 16 * TiB - CS;
      const vol = await pool.createVolume("huge", { sizeBytes: SIZE });
      for (let i = 0; i < 64; i++) {
        const off = (i / 64) * 16 * TiB;
        await vol.write(vol.admit(off - (off % CS), CS), pattern(i, CS));
      }
      await vol.createSnapshot("s");
      await vol.write(vol.admit(8 * TiB, CS), pattern(99, CS));
      const m = vol.blockMap({ buckets: 65536 });
      const sum = (col: number) => {
        let s = 0;
        for (let b = 0; b < 65536; b++) s += m.counts[b * m.classes.length + col] as number;
        return s;
      };
      expect(sum(1)).toBe(63);
      expect(sum(2)).toBe(1);
      expect(sum(0) + sum(1) + sum(2)).toBe(SIZE / CS);
      // GET LBA STATUS over the whole volume skips empty regions.
      const st = vol.lbaStatus(0, SIZE);
      expect(st.filter((r) => r.mapped).length).toBe(64);
      expect(st.reduce((n, r) => n + r.length, 0)).toBe(SIZE);
      expect(st[0]).toEqual({ offset: 0, length: CS, mapped: true });
      const snapSt = vol.getSnapshot("s").lbaStatus(0, SIZE);
      expect(snapSt.filter((r) => r.mapped).length).toBe(64);
      // UNMAP of the whole volume (mkfs does this): cost follows allocated chunks, not the range.
      const before = await vol.getSnapshot("s").read(0, CS);
      // An unmap that walked the range (4 G chunks) would blow the test timeout.
      await vol.unmap(vol.admit(0, SIZE));
      expect(vol.info.allocatedBytes).toBe(0);
      expect((await vol.read(0, CS)).every((b) => b === 0)).toBe(true);
      expect((await vol.getSnapshot("s").read(0, CS)).equals(before)).toBe(true);
      expect(vol.getSnapshot("s").info.preservedChunks).toBe(64);
      await pool.close();
    });
  });

  it("resize grows freely, refuses to shrink under snapshots, and persists", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: CS });
      const vol = await pool.createVolume("v", { sizeBytes: 8 * CS });
      await vol.write(vol.admit(7 * CS, CS), pattern(1, CS));
      await vol.resize(16 * CS);
      expect(vol.info.sizeBytes).toBe(16 * CS);
      expect((await vol.read(8 * CS, 8 * CS)).every((b) => b === 0)).toBe(true);
      await vol.createSnapshot("s");
      await expect(vol.resize(4 * CS)).rejects.toMatchObject({ code: "busy" });
      await vol.deleteSnapshot("s");
      await vol.resize(4 * CS);
      expect(() => vol.admit(4 * CS, CS)).toThrow(EngineError);
      await vol.resize(8 * CS);
      expect((await vol.read(7 * CS, CS)).every((b) => b === 0)).toBe(true);
      await expect(vol.resize(1000)).rejects.toMatchObject({ code: "invalid-argument" });
      await pool.close();
      const again = await openPool({ dir });
      expect(again.getVolume("v").info.sizeBytes).toBe(8 * CS);
      await again.close();
    });
  });

  it("compareAndWrite is atomic against other writes and respects the COW rule", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: CS });
      const vol = await pool.createVolume("v", { sizeBytes: 16 * CS });
      const a = pattern(1, 1024);
      await vol.write(vol.admit(0, 1024), a);
      await vol.createSnapshot("s");
      const b = pattern(2, 1024);
      expect(await vol.compareAndWrite(vol.admit(0, 1024), a, b)).toEqual({ ok: true });
      const wrong = Buffer.from(a);
      wrong[700] = (wrong[700] as number) ^ 1;
      expect(await vol.compareAndWrite(vol.admit(0, 1024), a, wrong)).toEqual({
        ok: false,
        mismatchOffset: 0,
      });
      const almost = Buffer.from(b);
      almost[700] = (almost[700] as number) ^ 1;
      expect(await vol.compareAndWrite(vol.admit(0, 1024), almost, a)).toEqual({
        ok: false,
        mismatchOffset: 700,
      });
      expect((await vol.read(0, 1024)).equals(b)).toBe(true);
      expect((await vol.getSnapshot("s").read(0, 1024)).equals(a)).toBe(true);
      // Two CAWs racing on the same bytes: exactly one wins.
      const c1 = pattern(3, 1024);
      const c2 = pattern(4, 1024);
      const t1 = vol.admit(0, 1024);
      const t2 = vol.admit(0, 1024);
      const [r2, r1] = await Promise.all([vol.compareAndWrite(t2, b, c2), vol.compareAndWrite(t1, b, c1)]);
      expect(r1.ok).toBe(true);
      expect(r2.ok).toBe(false);
      expect((await vol.read(0, 1024)).equals(c1)).toBe(true);
      await pool.close();
    });
  });

  it("rollback is online: progress events, writes during it, and the result survives reopen", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: CS });
      const vol = await pool.createVolume("v", { sizeBytes: 256 * CS });
      const base = pattern(1, 256 * CS);
      await vol.write(vol.admit(0, base.length), base);
      await vol.createSnapshot("good");
      await vol.write(vol.admit(0, 200 * CS), pattern(2, 200 * CS));
      await vol.createSnapshot("later");
      await vol.write(vol.admit(100 * CS, 50 * CS), pattern(3, 50 * CS));
      const laterView = await vol.getSnapshot("later").read(0, 256 * CS);
      const progress: number[] = [];
      const events: PoolEvents["rollback-progress"][0][] = [];
      pool.events.on("rollback-progress", (p) => events.push(p));
      const rb = vol.rollback("good", (p) => progress.push(p.doneChunks));
      // A write admitted after the rollback started lands on top of the restored content.
      const mine = pattern(4, CS);
      await vol.write(vol.admit(199 * CS, CS), mine);
      // A read during the rollback already sees the snapshot's content.
      expect((await vol.read(5 * CS, CS)).equals(base.subarray(5 * CS, 6 * CS))).toBe(true);
      await rb;
      expect(progress.length).toBeGreaterThan(1);
      expect(progress[progress.length - 1]).toBe(200);
      // "Done" is said once, when the rollback's end is durable.
      expect(progress.filter((done) => done === 200)).toHaveLength(1);
      expect(events[events.length - 1]?.totalChunks).toBe(200);
      const want = Buffer.from(base);
      mine.copy(want, 199 * CS);
      expect((await vol.read(0, 256 * CS)).equals(want)).toBe(true);
      // Snapshots keep their own views.
      expect((await vol.getSnapshot("later").read(0, 256 * CS)).equals(laterView)).toBe(true);
      expect((await vol.getSnapshot("good").read(0, 256 * CS)).equals(base)).toBe(true);
      await pool.close();
      const again = await openPool({ dir });
      expect((await again.getVolume("v").read(0, 256 * CS)).equals(want)).toBe(true);
      await again.close();
    });
  });

  it("4096-byte logical blocks, validation errors, events and volume lifecycle", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir });
      const seen: string[] = [];
      pool.events.on("volume-created", (e) => seen.push(`created:${e.volume.name}`));
      pool.events.on("volume-deleted", (e) => seen.push(`deleted:${e.volume}`));
      const written: number[] = [];
      pool.events.on("chunks-written", (e) => written.push(...e.chunks));
      const vol = await pool.createVolume("big-blocks", { sizeBytes: 1 << 20, blockSize: 4096 });
      expect(vol.info.blockSize).toBe(4096);
      expect(vol.info.chunkSize).toBe(4096);
      expect(() => vol.admit(512, 4096)).toThrow(/multiples/);
      expect(() => vol.admit(0, 2 << 20)).toThrow(expect.objectContaining({ code: "out-of-range" }));
      await vol.write(vol.admit(8192, 8192), pattern(1, 8192));
      await new Promise((r) => setImmediate(r));
      expect(written).toEqual([2, 3]);
      await expect(pool.createVolume("big-blocks", { sizeBytes: 4096 })).rejects.toMatchObject({
        code: "already-exists",
      });
      await expect(pool.createVolume("bad/name", { sizeBytes: 4096 })).rejects.toMatchObject({
        code: "invalid-argument",
      });
      await expect(pool.createVolume("odd", { sizeBytes: 1000 })).rejects.toMatchObject({
        code: "invalid-argument",
      });
      await expect(pool.createVolume("cs", { sizeBytes: 8192, chunkSize: 3000 })).rejects.toMatchObject({
        code: "invalid-argument",
      });
      expect(() => pool.getVolume("nope")).toThrow(expect.objectContaining({ code: "not-found" }));
      await expect(vol.createSnapshot("")).rejects.toMatchObject({ code: "invalid-argument" });
      await vol.createSnapshot("x");
      await expect(vol.createSnapshot("x")).rejects.toMatchObject({ code: "already-exists" });
      expect(vol.stats().writes).toBe(1);
      await pool.deleteVolume("big-blocks");
      expect(pool.listVolumes()).toEqual([]);
      expect(seen).toEqual(["created:big-blocks", "deleted:big-blocks"]);
      expect((await readdir(dir)).filter((f) => f.startsWith("vol-"))).toEqual([]);
      await pool.close();
      expect(() => pool.listVolumes()).toThrow(expect.objectContaining({ code: "closed" }));
    });
  });

  it("checkpoints bound recovery: a reopened pool replays no history after a clean close", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: CS, checkpointBytes: 4096 });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * CS });
      for (let i = 0; i < 40; i++) {
        await vol.createSnapshot(`s${i}`);
        await vol.write(vol.admit((i % 64) * CS, CS), pattern(i, CS));
      }
      for (let i = 0; i < 30; i++) await vol.deleteSnapshot(`s${i}`);
      const live = await vol.read(0, 64 * CS);
      const s35 = await vol.getSnapshot("s35").read(0, 64 * CS);
      await pool.close();
      const files = await readdir(dir);
      expect(files.filter((f) => f.startsWith("log-")).length).toBe(1);
      expect(files.filter((f) => f.startsWith("checkpoint-")).length).toBe(1);
      const again = await openPool({ dir });
      expect(again.recovery.logRecords).toBe(0);
      const v = again.getVolume("v");
      expect((await v.read(0, 64 * CS)).equals(live)).toBe(true);
      expect((await v.getSnapshot("s35").read(0, 64 * CS)).equals(s35)).toBe(true);
      expect(v.listSnapshots()).toHaveLength(10);
      await again.close();
    });
  });
});

describe("the metadata log", () => {
  it("is written with zeros ahead of its tail; recovery reads them as its end and cuts real garbage", async () => {
    await withTempDir(async (dir) => {
      const live = join(dir, "live");
      const pool = await openPool({ dir: live, chunkSize: CS });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * CS });
      await vol.write(vol.admit(0, 64 * CS), pattern(1, 64 * CS));
      await vol.createSnapshot("s");
      for (let i = 0; i < 8; i++) await vol.write(vol.admit(i * CS, CS), pattern(10 + i, CS), { fua: true });
      await vol.flush();
      const expected = await vol.read(0, 64 * CS);
      // A crash image: the files as they are now, without the owner's lock.
      const crashed = async (name: string): Promise<string> => {
        const to = join(dir, name);
        await cp(live, to, { recursive: true });
        await rm(join(to, "pool.lock"), { force: true });
        return to;
      };
      const clean = await crashed("clean");
      const logName = (await readdir(clean)).find((f) => f.startsWith("log-")) as string;
      const log = await readFile(join(clean, logName));
      const end = FILE_HEADER + decodeRecords(log.subarray(FILE_HEADER)).validBytes;
      expect(end).toBeGreaterThan(FILE_HEADER);
      expect(log.length - end).toBeGreaterThanOrEqual(4096); // zeros ahead of the last record
      expect(log.subarray(end).every((b) => b === 0)).toBe(true);
      const garbled = await crashed("garbled");
      const fd = await open(join(garbled, logName), "r+");
      await fd.write(Buffer.alloc(100, 0xab), 0, 100, end);
      await fd.close();
      await pool.close();
      for (const [at, torn] of [
        [clean, 0],
        [garbled, 100],
      ] as const) {
        const again = await openPool({ dir: at });
        expect(again.recovery.logRecords).toBeGreaterThan(0);
        expect(again.recovery.tornBytesDropped).toBe(torn);
        const v = again.getVolume("v");
        expect((await v.read(0, 64 * CS)).equals(expected)).toBe(true);
        expect((await v.getSnapshot("s").read(0, 64 * CS)).equals(pattern(1, 64 * CS))).toBe(true);
        await again.close();
      }
    });
  });
});

describe("pool ownership and hygiene", () => {
  it("refuses a second opener, takes over a dead owner's lock, removes orphan files", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir });
      await expect(openPool({ dir })).rejects.toMatchObject({ code: "busy" });
      await pool.createVolume("v", { sizeBytes: 4096 });
      await pool.close();
      // A lock left by a process that no longer exists (pid far beyond pid_max) is stale.
      const { writeFile } = await import("node:fs/promises");
      const { join } = await import("node:path");
      await writeFile(join(dir, "pool.lock"), "999999999\n");
      await writeFile(join(dir, "vol-00000000-dead-beef-0000-000000000000.img"), "orphan");
      const again = await openPool({ dir });
      expect(again.listVolumes().map((v) => v.name)).toEqual(["v"]);
      expect((await readdir(dir)).filter((f) => f.includes("dead-beef"))).toEqual([]);
      await again.close();
      expect((await readdir(dir)).includes("pool.lock")).toBe(false);
    });
  });
});

describe("written since a snapshot after a rollback to it", () => {
  const CS = 4096;
  const writtenSince = (
    vol: {
      blockMap(q: { buckets: number; since: string }): { classes: string[]; counts: Uint32Array | number[] };
    },
    since: string,
  ): number => {
    const m = vol.blockMap({ buckets: 1, since });
    return Number(m.counts[m.classes.indexOf("written")] ?? 0);
  };

  it("restored chunks do not count as written until a write touches them again", async () => {
    await withTempDir(async (dir) => {
      let pool = await openPool({ dir, chunkSize: CS });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * CS, blockSize: 512 });
      await vol.write(vol.admit(0, 16 * CS), pattern(1, 16 * CS));
      await vol.createSnapshot("s");
      await vol.write(vol.admit(0, 4 * CS), pattern(2, 4 * CS));
      await vol.createSnapshot("t");
      await vol.write(vol.admit(8 * CS, CS), pattern(3, CS));
      expect(writtenSince(vol, "s")).toBe(5);
      expect(vol.changedChunks("s").ranges.length).toBe(2);
      await vol.rollback("s");
      expect((await vol.read(0, 16 * CS)).equals(pattern(1, 16 * CS))).toBe(true);
      // Content equals s again: nothing written since s; t still differs from the live volume.
      expect(writtenSince(vol, "s")).toBe(0);
      expect(vol.changedChunks("s").ranges).toEqual([]);
      expect(writtenSince(vol, "t")).toBe(5);
      await vol.write(vol.admit(2 * CS, 512), Buffer.alloc(512, 9));
      expect(writtenSince(vol, "s")).toBe(1);
      expect(vol.changedChunks("s").ranges).toEqual([{ offset: 2 * CS, length: CS }]);
      await pool.close();
      // Not persisted: after a restart the restored chunks count as written again (never fewer).
      pool = await openPool({ dir, chunkSize: CS });
      expect(writtenSince(pool.getVolume("v"), "s")).toBe(5);
      await pool.close();
    });
  });

  it("a write that lands while the rollback runs counts as written; the rest does not", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: CS });
      const vol = await pool.createVolume("v", { sizeBytes: 64 * CS, blockSize: 512 });
      await vol.write(vol.admit(0, 16 * CS), pattern(1, 16 * CS));
      await vol.createSnapshot("s");
      await vol.write(vol.admit(0, 8 * CS), pattern(2, 8 * CS));
      await vol.flush();
      const rolling = vol.rollback("s");
      // Admitted after the rollback's stamp: restores chunk 5 first, then writes it.
      const late = pattern(4, CS);
      await vol.write(vol.admit(5 * CS, CS), late, { fua: true });
      await rolling;
      expect(writtenSince(vol, "s")).toBe(1);
      expect(vol.changedChunks("s").ranges).toEqual([{ offset: 5 * CS, length: CS }]);
      expect((await vol.read(5 * CS, CS)).equals(late)).toBe(true);
      expect((await vol.read(0, CS)).equals(pattern(1, 16 * CS).subarray(0, CS))).toBe(true);
      await pool.close();
    });
  });
});
