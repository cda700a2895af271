// The chunk lock manager, independent of every image. An admitted write holds a place, in
// admission (seq) order, over the chunk range it touches; it executes only when no
// earlier-admitted write overlapping its range is still pending or executing and no reader holds
// an overlapping chunk. On any chunk, writes therefore run strictly in admission order. Readers
// share chunks and wait only for an overlapping write that is executing (or ready and waiting for
// nothing but readers, so writers cannot starve).
// Entries are ranges, not per-chunk queues: an UNMAP of terabytes costs one entry. Checks are
// linear in the number of active requests (the initiators' queue depth), not in chunks.
// Grants are all-or-nothing over a request's range: nobody holds part of a range while waiting
// for the rest, hence no deadlock.

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
  lo: number;
  hi: number;
}

const overlaps = (a: { lo: number; hi: number }, lo: number, hi: number): boolean => a.lo < hi && lo < a.hi;

export class LockManager {
  /** Active write entries (pending or executing), sorted by seq. */
  private entries: LockEntry[] = [];
  private readonly reads = new Set<ReadHold>();
  private waitingReads: ReadRequest[] = [];
  /** Called when a read or write has to wait (the volume starts a pending commit round then). */
  onWait: (() => void) | null = null;

  /** Reserves the entry's place (seq is the newest admitted: appended at the tail). */
  admit(seq: number, lo: number, hi: number): LockEntry {
    const entry = this.makeEntry(seq, lo, hi);
    this.entries.push(entry);
    return entry;
  }

  /**
   * Reserves a place for an older seq (rollback restores chunks as of its stamp): it goes before
   * queued entries with a larger seq; a granted one it overlaps still finishes first.
   */
  admitAt(seq: number, chunk: number): LockEntry {
    const entry = this.makeEntry(seq, chunk, chunk + 1);
    let i = this.entries.length;
    while (i > 0 && (this.entries[i - 1] as LockEntry).seq > seq) i--;
    this.entries.splice(i, 0, entry);
    return entry;
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
    this.reads.delete(hold);
    this.afterChange(hold.lo, hold.hi);
  }

  /**
   * Shutdown: every request not yet granted fails with `err` and leaves the queue; executing
   * writes and granted reads finish normally. Nothing waits forever on a ticket whose data
   * will never come.
   */
  failWaiting(err: Error): void {
    const failed = this.entries.filter((e) => !e.granted);
    this.entries = this.entries.filter((e) => e.granted);
    for (const e of failed) {
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
    return this.entries.length;
  }

  private makeEntry(seq: number, lo: number, hi: number): LockEntry {
    return { seq, lo, hi, ready: false, granted: false, done: false, wake: null, fail: null };
  }

  private remove(entry: LockEntry): void {
    const i = this.entries.indexOf(entry);
    if (i >= 0) this.entries.splice(i, 1);
  }

  /** No earlier overlapping write is active and no overlapping write is executing. */
  private writeUnblocked(e: LockEntry): boolean {
    for (const x of this.entries) {
      if (x === e) continue;
      if ((x.seq < e.seq || x.granted) && overlaps(x, e.lo, e.hi)) return false;
    }
    return true;
  }

  private tryGrantWrite(e: LockEntry): boolean {
    if (!e.ready || e.granted || e.done) return false;
    if (!this.writeUnblocked(e)) return false;
    for (const r of this.reads) if (overlaps(r, e.lo, e.hi)) return false;
    e.granted = true;
    const wake = e.wake;
    e.wake = null;
    e.fail = null;
    wake?.();
    return true;
  }

  private tryGrantRead(lo: number, hi: number): ReadHold | null {
    for (const x of this.entries) {
      if (!overlaps(x, lo, hi)) continue;
      if (x.granted) return null;
      // Writer preference: a ready write that waits only for readers goes first.
      if (x.ready && this.writeUnblocked(x)) return null;
    }
    const hold = { lo, hi };
    this.reads.add(hold);
    return hold;
  }

  private afterChange(lo: number, hi: number): void {
    // Any ready entry overlapping the freed range may now run (in seq order). No copy of the
    // array: a grant only resolves a promise, nothing runs that could change `entries` meanwhile.
    for (const x of this.entries) {
      if (x.ready && !x.granted && overlaps(x, lo, hi)) this.tryGrantWrite(x);
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
