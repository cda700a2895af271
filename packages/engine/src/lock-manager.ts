// The chunk lock manager, independent of every image. An admitted write holds a place, in
// admission (seq) order, over the chunk range it touches; it executes only when no
// earlier-admitted write overlapping its range is still pending or executing and no reader holds
// an overlapping chunk. On any chunk, writes therefore run strictly in admission order. Readers
// share chunks and wait only for an overlapping write that is executing (or ready and waiting for
// nothing but readers, so writers cannot starve).
// Entries are ranges, not per-chunk queues: an UNMAP of terabytes costs one entry. A range index
// (range-index.ts) finds the requests near a range, so a check costs what overlaps it, not the
// number of active requests (write-back tails plus every initiator's queue depth).
// Grants are all-or-nothing over a request's range: nobody holds part of a range while waiting
// for the rest, hence no deadlock.

import { RangeIndex } from "./range-index.js";

export interface LockEntry {
  readonly seq: number;
  readonly lo: number;
  /** Exclusive. */
  readonly hi: number;
  ready: boolean;
  granted: boolean;
  done: boolean;
  wake: (() => void) | null;
  fail: ((err: Error) => void) | null;
}

interface ReadRequest {
  lo: number;
  hi: number;
  wake: (hold: ReadHold) => void;
  fail: (err: Error) => void;
}

export interface ReadHold {
  readonly lo: number;
  readonly hi: number;
  /** Set by releaseRead: a second release is a no-op. */
  released: boolean;
}

/** x keeps write e from running: x is an earlier overlapping write, or one executing. */
const blocksWrite = (x: LockEntry, e: LockEntry): boolean => x !== e && (x.seq < e.seq || x.granted);
const writeUnblocked = (entries: RangeIndex<LockEntry>, e: LockEntry): boolean =>
  entries.find(e.lo, e.hi, blocksWrite, e) === undefined;
/** x keeps a read from starting: x executes, or is ready and waits only for readers (writer preference). */
const blocksRead = (x: LockEntry, entries: RangeIndex<LockEntry>): boolean =>
  x.granted || (x.ready && writeUnblocked(entries, x));
const always = (): boolean => true;

export class LockManager {
  /** Active write entries (pending or executing). */
  private readonly entries: RangeIndex<LockEntry>;
  private active = 0;
  private readonly reads: RangeIndex<ReadHold>;
  private waitingReads: ReadRequest[] = [];
  /** Called when a read or write has to wait (the volume starts a pending commit round then). */
  onWait: (() => void) | null = null;

  /** `listMax`/`listMin`: the range index's switch-over points (tests shrink them). */
  constructor(index?: { listMax: number; listMin: number }) {
    this.entries = new RangeIndex<LockEntry>(index?.listMax, index?.listMin);
    this.reads = new RangeIndex<ReadHold>(index?.listMax, index?.listMin);
  }

  /** Reserves the entry's place (seq is the newest admitted: appended at the tail). */
  admit(seq: number, lo: number, hi: number): LockEntry {
    return this.add(this.makeEntry(seq, lo, hi));
  }

  /**
   * Reserves a place for an older seq (rollback restores chunks as of its stamp): it goes before
   * queued entries with a larger seq; a granted one it overlaps still finishes first.
   */
  admitAt(seq: number, chunk: number): LockEntry {
    return this.add(this.makeEntry(seq, chunk, chunk + 1));
  }

  /** Resolves when the entry holds its whole range exclusively. */
  acquireWrite(entry: LockEntry): Promise<void> {
    entry.ready = true;
    if (this.tryGrantWrite(entry)) return Promise.resolve();
    this.onWait?.();
    return new Promise((resolve, reject) => {
      entry.wake = resolve;
      entry.fail = reject;
    });
  }

  releaseWrite(entry: LockEntry): void {
    if (entry.done) return;
    entry.done = true;
    this.remove(entry);
    this.afterChange(entry.lo, entry.hi);
  }

  /** Removes a never-granted entry. Returns false if it already executes. */
  cancel(entry: LockEntry): boolean {
    if (entry.granted || entry.done) return entry.done;
    entry.done = true;
    this.remove(entry);
    this.afterChange(entry.lo, entry.hi);
    return true;
  }

  acquireRead(lo: number, hi: number): Promise<ReadHold> {
    const hold = this.tryGrantRead(lo, hi);
    if (hold) return Promise.resolve(hold);
    this.onWait?.();
    return new Promise((resolve, reject) => {
      this.waitingReads.push({ lo, hi, wake: resolve, fail: reject });
    });
  }

  releaseRead(hold: ReadHold): void {
    if (hold.released) return;
    hold.released = true;
    this.reads.delete(hold);
    this.afterChange(hold.lo, hold.hi);
  }

  /**
   * Shutdown: every request not yet granted fails with `err` and leaves the queue; executing
   * writes and granted reads finish normally. Nothing waits forever on a ticket whose data
   * will never come.
   */
  failWaiting(err: Error): void {
    const failed = this.entries.values().filter((e) => !e.granted);
    for (const e of failed) {
      this.remove(e);
      e.done = true;
      const fail = e.fail;
      e.wake = null;
      e.fail = null;
      fail?.(err);
    }
    const reads = this.waitingReads;
    this.waitingReads = [];
    for (const r of reads) r.fail(err);
  }

  /** Active write requests (diagnostics and tests). */
  get activeWrites(): number {
    return this.active;
  }

  private makeEntry(seq: number, lo: number, hi: number): LockEntry {
    return { seq, lo, hi, ready: false, granted: false, done: false, wake: null, fail: null };
  }

  private add(entry: LockEntry): LockEntry {
    this.active++;
    this.entries.add(entry);
    return entry;
  }

  /** Callers remove an entry once, as it becomes done. */
  private remove(entry: LockEntry): void {
    this.active--;
    this.entries.delete(entry);
  }

  private tryGrantWrite(e: LockEntry): boolean {
    if (!e.ready || e.granted || e.done) return false;
    if (!writeUnblocked(this.entries, e)) return false;
    if (this.reads.find(e.lo, e.hi, always, null)) return false;
    e.granted = true;
    const wake = e.wake;
    e.wake = null;
    e.fail = null;
    wake?.();
    return true;
  }

  private tryGrantRead(lo: number, hi: number): ReadHold | null {
    if (this.entries.find(lo, hi, blocksRead, this.entries)) return null;
    const hold: ReadHold = { lo, hi, released: false };
    this.reads.add(hold);
    return hold;
  }

  private afterChange(lo: number, hi: number): void {
    // Any ready entry overlapping the freed range may now run. The order of the tries does not
    // matter: an entry is blocked by every earlier overlapping one, granted or not (equal seqs are
    // rollback restores, one per chunk, which never overlap). A grant only resolves a promise:
    // nothing runs that could change the entries meanwhile.
    if (this.entries.size > 0) {
      for (const x of this.entries.overlapping(lo, hi)) if (x.ready && !x.granted) this.tryGrantWrite(x);
    }
    if (this.waitingReads.length > 0) {
      const still: ReadRequest[] = [];
      for (const r of this.waitingReads) {
        const hold = this.tryGrantRead(r.lo, r.hi);
        if (hold) r.wake(hold);
        else still.push(r);
      }
      this.waitingReads = still;
    }
  }
}
