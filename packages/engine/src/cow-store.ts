// A volume's COW store: the images of all its snapshots share one file of chunk-sized slots.
// A snapshot's lookup table maps chunk -> slot. Freed slots are reused only after the metadata
// that stopped referencing them is durable (the caller releases them after its commit).
import type { BlockFile } from "./block-file.js";
import { adjacentRuns } from "./chunk-set.js";
import { EngineError } from "./errors.js";

export class CowStore {
  private free: number[] = [];
  private highWater = 0;
  /** Set by every completed slot write; the log's commit round syncs the store first when set. */
  private dirty = false;

  constructor(
    private readonly file: BlockFile,
    private readonly chunkSize: number,
    /** Store capacity; allocation beyond it fails like a full disk (ENOSPC). */
    private readonly limitBytes: number,
  ) {}

  /** Rebuilds the free list from the slots the recovered tables reference. */
  initSlots(used: Iterable<number>): void {
    const inUse = new Set<number>();
    let max = -1;
    for (const s of used) {
      if (s < 0) continue;
      inUse.add(s);
      if (s > max) max = s;
    }
    this.highWater = max + 1;
    this.free = [];
    for (let s = this.highWater - 1; s >= 0; s--) if (!inUse.has(s)) this.free.push(s);
  }

  get usedSlots(): number {
    return this.highWater - this.free.length;
  }

  allocate(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if ((this.highWater + 1) * this.chunkSize > this.limitBytes) {
      throw new EngineError("no-space", "COW store is full");
    }
    return this.highWater++;
  }

  release(slots: readonly number[]): void {
    for (const s of slots) if (s >= 0) this.free.push(s);
  }

  /**
   * Releases slots no durable record references (a deleted snapshot's) after punching their
   * blocks out of the store file, runs of adjacent slots at a time, in the background: deleting a
   * snapshot gives its space back without waiting for it. A slot joins the free list only after
   * its punch, so a reuse never races it (meanwhile new slots are allocated). A failed or
   * impossible punch only costs the space: the slot is released all the same.
   */
  releasePunched(slots: readonly number[]): void {
    const sorted = slots.filter((s) => s >= 0).sort((a, b) => a - b);
    if (sorted.length === 0) return;
    this.punching = this.punching.then(async () => {
      for (const [lo, hi] of adjacentRuns(sorted)) {
        await this.file.punchHole?.(lo * this.chunkSize, (hi - lo) * this.chunkSize).catch(() => false);
        for (let s = lo; s < hi; s++) this.free.push(s);
      }
    });
  }

  /** Background punches of released slots, in order (close() waits for them). */
  private punching: Promise<void> = Promise.resolve();

  async writeSlot(slot: number, data: Uint8Array): Promise<void> {
    await this.file.write(data, slot * this.chunkSize);
    this.dirty = true;
  }

  /** Reads `length` bytes at `offset` within the slot into `into` at `at`. */
  async readSlot(slot: number, offset: number, into: Uint8Array, at: number, length: number): Promise<void> {
    const view = into.subarray(at, at + length);
    const n = await this.file.read(view, slot * this.chunkSize + offset);
    if (n < length) view.fill(0, n);
  }

  /** COW data must be durable before the records that point at it: called first in a commit round. */
  async syncIfDirty(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    try {
      await this.file.sync();
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.punching;
    return this.file.close();
  }
}
