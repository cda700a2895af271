// Reference model of the chunk lock manager: the same rules over one seq-ordered array, every
// check a scan of all active requests. The indexed LockManager must grant exactly what this does.
export interface ModelEntry {
  seq: number;
  lo: number;
  hi: number;
  ready: boolean;
  granted: boolean;
  done: boolean;
}

export interface ModelRead {
  lo: number;
  hi: number;
  granted: boolean;
  failed: boolean;
}

const overlaps = (a: { lo: number; hi: number }, lo: number, hi: number): boolean => a.lo < hi && lo < a.hi;

export class LinearLockModel {
  private entries: ModelEntry[] = [];
  private readonly holds = new Set<ModelRead>();
  private waiting: ModelRead[] = [];

  admit(seq: number, lo: number, hi: number): ModelEntry {
    const e = { seq, lo, hi, ready: false, granted: false, done: false };
    this.entries.push(e);
    return e;
  }

  admitAt(seq: number, chunk: number): ModelEntry {
    const e = { seq, lo: chunk, hi: chunk + 1, ready: false, granted: false, done: false };
    let i = this.entries.length;
    while (i > 0 && (this.entries[i - 1] as ModelEntry).seq > seq) i--;
    this.entries.splice(i, 0, e);
    return e;
  }

  acquireWrite(e: ModelEntry): void {
    e.ready = true;
    this.tryGrantWrite(e);
  }

  releaseWrite(e: ModelEntry): void {
    e.done = true;
    this.remove(e);
    this.afterChange(e.lo, e.hi);
  }

  cancel(e: ModelEntry): void {
    if (e.granted || e.done) return;
    e.done = true;
    this.remove(e);
    this.afterChange(e.lo, e.hi);
  }

  acquireRead(lo: number, hi: number): ModelRead {
    const r = { lo, hi, granted: false, failed: false };
    if (this.readAllowed(lo, hi)) {
      r.granted = true;
      this.holds.add(r);
    } else this.waiting.push(r);
    return r;
  }

  releaseRead(r: ModelRead): void {
    this.holds.delete(r);
    this.afterChange(r.lo, r.hi);
  }

  failWaiting(): void {
    for (const e of this.entries) if (!e.granted) e.done = true;
    this.entries = this.entries.filter((e) => e.granted);
    for (const r of this.waiting) r.failed = true;
    this.waiting = [];
  }

  get activeWrites(): number {
    return this.entries.length;
  }

  private remove(e: ModelEntry): void {
    const i = this.entries.indexOf(e);
    if (i >= 0) this.entries.splice(i, 1);
  }

  private writeUnblocked(e: ModelEntry): boolean {
    return !this.entries.some((x) => x !== e && (x.seq < e.seq || x.granted) && overlaps(x, e.lo, e.hi));
  }

  private tryGrantWrite(e: ModelEntry): void {
    if (!e.ready || e.granted || e.done || !this.writeUnblocked(e)) return;
    for (const r of this.holds) if (overlaps(r, e.lo, e.hi)) return;
    e.granted = true;
  }

  private readAllowed(lo: number, hi: number): boolean {
    return !this.entries.some(
      (x) => overlaps(x, lo, hi) && (x.granted || (x.ready && this.writeUnblocked(x))),
    );
  }

  private afterChange(lo: number, hi: number): void {
    for (const x of this.entries) if (x.ready && !x.granted && overlaps(x, lo, hi)) this.tryGrantWrite(x);
    const still: ModelRead[] = [];
    for (const r of this.waiting) {
      if (this.readAllowed(r.lo, r.hi)) {
        r.granted = true;
        this.holds.add(r);
      } else still.push(r);
    }
    this.waiting = still;
  }
}
