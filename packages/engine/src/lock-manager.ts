// The chunk lock manager, independent of every image. Writes reserve their place in each touched
// chunk's queue when admitted (admission order = seq order); a write executes only when it heads
// the queue of every chunk it touches and no reader holds one of them, so on any chunk writes run
// strictly in admission order. Readers share a chunk and wait only for a write that is executing
// (or ready and waiting for nothing but readers, so writers cannot starve).
// Grants are all-or-nothing over a request's chunks: nobody holds a chunk while waiting for
// another, hence no deadlock.

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

interface ChunkLock {
  queue: LockEntry[];
  readers: number;
  writer: LockEntry | null;
}

interface ReadRequest {
  lo: number;
  hi: number;
  wake: () => void;
  fail: (err: Error) => void;
}

export class LockManager {
  private readonly chunks = new Map<number, ChunkLock>();
  private waitingReads: ReadRequest[] = [];

  /** Reserves the entry's place at the tail of each chunk queue (seq is the newest admitted). */
  admit(seq: number, lo: number, hi: number): LockEntry {
    const entry: LockEntry = {
      seq,
      lo,
      hi,
      ready: false,
      granted: false,
      done: false,
      wake: null,
      fail: null,
    };
    for (let c = lo; c < hi; c++) this.lock(c).queue.push(entry);
    return entry;
  }

  /**
   * Reserves a place for an older seq (rollback restores chunks as of its stamp): inserted before
   * queued entries with a larger seq, never ahead of a granted one.
   */
  admitAt(seq: number, chunk: number): LockEntry {
    const entry: LockEntry = {
      seq,
      lo: chunk,
      hi: chunk + 1,
      ready: false,
      granted: false,
      done: false,
      wake: null,
      fail: null,
    };
    const q = this.lock(chunk).queue;
    let i = q.length;
    while (i > 0 && (q[i - 1] as LockEntry).seq > seq && !(q[i - 1] as LockEntry).granted) i--;
    q.splice(i, 0, entry);
    return entry;
  }

  /** Resolves when the entry holds every chunk exclusively. */
  acquireWrite(entry: LockEntry): Promise<void> {
    entry.ready = true;
    if (this.tryGrantWrite(entry)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      entry.wake = resolve;
      entry.fail = reject;
    });
  }

  releaseWrite(entry: LockEntry): void {
    entry.done = true;
    for (let c = entry.lo; c < entry.hi; c++) {
      const l = this.chunks.get(c) as ChunkLock;
      l.writer = null;
      if (l.queue[0] === entry) l.queue.shift();
      else l.queue.splice(l.queue.indexOf(entry), 1);
    }
    this.afterChange(entry.lo, entry.hi);
  }

  /** Removes a never-granted entry from its queues. Returns false if it already executes. */
  cancel(entry: LockEntry): boolean {
    if (entry.granted || entry.done) return entry.done;
    entry.done = true;
    for (let c = entry.lo; c < entry.hi; c++) {
      const l = this.chunks.get(c);
      if (!l) continue;
      const i = l.queue.indexOf(entry);
      if (i >= 0) l.queue.splice(i, 1);
    }
    this.afterChange(entry.lo, entry.hi);
    return true;
  }

  acquireRead(lo: number, hi: number): Promise<void> {
    if (this.tryGrantRead(lo, hi)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waitingReads.push({ lo, hi, wake: resolve, fail: reject });
    });
  }

  releaseRead(lo: number, hi: number): void {
    for (let c = lo; c < hi; c++) {
      const l = this.chunks.get(c) as ChunkLock;
      l.readers--;
    }
    this.afterChange(lo, hi);
  }

  /**
   * Shutdown: every request not yet granted fails with `err` and leaves its queues; executing
   * writes and granted reads finish normally. Nothing waits forever on a ticket whose data
   * will never come.
   */
  failWaiting(err: Error): void {
    const failed = new Set<LockEntry>();
    for (const l of this.chunks.values()) {
      l.queue = l.queue.filter((e) => {
        if (e.granted) return true;
        failed.add(e);
        return false;
      });
    }
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

  /** Entries queued or executing (diagnostics and tests). */
  get activeChunks(): number {
    return this.chunks.size;
  }

  private lock(c: number): ChunkLock {
    let l = this.chunks.get(c);
    if (!l) {
      l = { queue: [], readers: 0, writer: null };
      this.chunks.set(c, l);
    }
    return l;
  }

  private tryGrantWrite(e: LockEntry): boolean {
    if (!e.ready || e.granted || e.done) return false;
    for (let c = e.lo; c < e.hi; c++) {
      const l = this.chunks.get(c) as ChunkLock;
      if (l.queue[0] !== e || l.readers > 0 || l.writer !== null) return false;
    }
    for (let c = e.lo; c < e.hi; c++) (this.chunks.get(c) as ChunkLock).writer = e;
    e.granted = true;
    const wake = e.wake;
    e.wake = null;
    e.fail = null;
    wake?.();
    return true;
  }

  /** True when a ready head entry waits for nothing but readers: new readers must queue behind it. */
  private writerPending(l: ChunkLock): boolean {
    const head = l.queue[0];
    if (!head?.ready || head.granted) return false;
    for (let c = head.lo; c < head.hi; c++) {
      const o = this.chunks.get(c) as ChunkLock;
      if (o.queue[0] !== head || o.writer !== null) return false;
    }
    return true;
  }

  private tryGrantRead(lo: number, hi: number): boolean {
    for (let c = lo; c < hi; c++) {
      const l = this.chunks.get(c);
      if (l && (l.writer !== null || this.writerPending(l))) return false;
    }
    for (let c = lo; c < hi; c++) this.lock(c).readers++;
    return true;
  }

  private afterChange(lo: number, hi: number): void {
    // Heads that may now run.
    for (let c = lo; c < hi; c++) {
      const l = this.chunks.get(c);
      if (!l) continue;
      const head = l.queue[0];
      if (head) this.tryGrantWrite(head);
    }
    if (this.waitingReads.length > 0) {
      const still: ReadRequest[] = [];
      for (const r of this.waitingReads) {
        if (this.tryGrantRead(r.lo, r.hi)) r.wake();
        else still.push(r);
      }
      this.waitingReads = still;
    }
    for (let c = lo; c < hi; c++) {
      const l = this.chunks.get(c);
      if (l && l.queue.length === 0 && l.readers === 0 && l.writer === null) this.chunks.delete(c);
    }
  }
}
