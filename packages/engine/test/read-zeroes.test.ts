// Reads fill their result with Buffer.allocUnsafe and zero only what no file read wrote. These
// tests poison that memory and check that every byte of a read is file data or an explicit zero.
import { afterEach, describe, expect, it, vi } from "vitest";
import { openPool, type VolumeHandle } from "../src/index.js";
import { firstDiff, pattern, withTempDir } from "./helpers.js";

const CS = 4096;
const CHUNKS = 16;

/** Expected content of `count` chunks from chunk 0: the written patterns, zeros elsewhere. */
function expected(written: ReadonlyMap<number, Buffer>, count: number): Buffer {
  const out = Buffer.alloc(count * CS);
  for (const [c, data] of written) if (c < count) data.copy(out, c * CS);
  return out;
}

/** Lots of short-lived non-zero garbage, so recycled allocator memory is likely to be dirty. */
function churn(): void {
  for (let i = 0; i < 2000; i++) Buffer.allocUnsafe(CS * (1 + (i % 8))).fill(0xee);
}

async function checkViews(
  vol: VolumeHandle,
  live: Map<number, Buffer>,
  snap: Map<number, Buffer>,
): Promise<void> {
  const whole = expected(live, CHUNKS);
  const got = await vol.read(0, CHUNKS * CS);
  expect(firstDiff(got, whole)).toBe(-1);
  const snapWhole = expected(snap, CHUNKS);
  const s = vol.getSnapshot("s");
  expect(firstDiff(await s.read(0, CHUNKS * CS), snapWhole)).toBe(-1);
  // Sub-chunk reads inside a zero-slot chunk (5), an origin hole (2) and past the file's end (9).
  for (const c of [2, 5, 9]) {
    const at = c * CS + 512;
    expect(firstDiff(await s.read(at, 1024), snapWhole.subarray(at, at + 1024))).toBe(-1);
    expect(firstDiff(await vol.read(at, 1024), whole.subarray(at, at + 1024))).toBe(-1);
  }
  // Into a caller's poisoned (recycled) buffer, bigger than the read: the same bytes, in place.
  for (const [reader, want] of [
    [vol, whole],
    [s, snapWhole],
  ] as const) {
    const into = Buffer.alloc(CHUNKS * CS + 100, 0xee);
    const view = await reader.read(0, CHUNKS * CS, into);
    expect(view.buffer).toBe(into.buffer);
    expect(view.length).toBe(CHUNKS * CS);
    expect(firstDiff(into.subarray(0, CHUNKS * CS), want)).toBe(-1);
    expect(into.subarray(CHUNKS * CS).every((b) => b === 0xee)).toBe(true);
  }
  await expect(vol.read(0, CS, Buffer.alloc(CS - 1))).rejects.toMatchObject({ code: "invalid-argument" });
}

describe("reads never return stale memory", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("unallocated chunks, zero-slot copies and reads past the end of the file are exact zeros", async () => {
    await withTempDir(async (dir) => {
      const pool = await openPool({ dir, chunkSize: CS });
      const vol = await pool.createVolume("v", { sizeBytes: CHUNKS * CS });
      const live = new Map<number, Buffer>();
      for (const c of [1, 3]) {
        live.set(c, pattern(c, CS));
        await vol.write(vol.admit(c * CS, CS), pattern(c, CS));
      }
      await vol.createSnapshot("s");
      const snap = new Map(live);
      // Chunk 5 was unallocated at the snapshot: its copy is the zero slot (no data stored).
      live.set(5, pattern(5, CS));
      await vol.write(vol.admit(5 * CS, CS), pattern(5, CS));

      churn();
      await checkViews(vol, live, snap);

      // Deterministic: every Buffer.allocUnsafe now hands out memory full of 0xEE.
      const spy = vi.spyOn(Buffer, "allocUnsafe").mockImplementation((n: number) => Buffer.alloc(n, 0xee));
      await checkViews(vol, live, snap);
      expect(spy).toHaveBeenCalled();
      vi.restoreAllMocks();
      await pool.close();
    });
  });
});
