// When a read or write runs synchronously on the event loop instead of in libuv's thread pool.
//
// A thread-pool round trip wakes a worker and then the event loop: on a VM with idle vCPUs that
// costs 40-80 µs, while a read or write the page cache serves costs a few µs as a plain syscall.
// So while the page cache keeps serving, reads and writes up to MAX_BYTES run inline. An inline
// I/O that takes longer than a cached copy could (budgetMs) either waited for the disk (a cache
// miss, dirty-page throttling) or lost its CPU to another process. One alone means little (on a
// busy 2-vCPU VM about 0.5% of inline I/Os are preempted); SLOW_TRIP of the last 8 mean the disk
// is serving: inline I/O pauses and reads and writes go to the pool, where several disk I/Os run
// in parallel and the loop never stalls on one. Each pause is 4x the last (up to MAX_BACKOFF_MS);
// fast inline I/Os halve it, so a cold workload stays in the pool and a warm one stays inline.
// I/O already in the pool does not hold inline I/O back: write-back tails keep a few writes there
// at all times, and waiting for an empty pool kept a warm workload off the inline path for good.
// fdatasync always runs in the pool. LIVESNAP_INLINE_IO=0 turns inline I/O off.

export class InlineIoPolicy {
  /**
   * Larger I/Os go to the pool: their copy (25+ µs for 128 KiB) is worth running on another core
   * while the event loop serves the network (inline 128 KiB reads halved sequential read MiB/s).
   */
  static readonly MAX_BYTES = 32 << 10;
  static readonly MAX_BACKOFF_MS = 1000;
  /** Slow inline I/Os among the last 8 that pause inline I/O. */
  static readonly SLOW_TRIP = 3;
  /**
   * Inline I/Os per event-loop turn. An inline I/O resolves its promise at once, so a loop of
   * awaited I/Os (a rollback, a closed-loop writer) would otherwise run as one endless chain of
   * microtasks and starve sockets, timers and every other session. Past this many, I/O goes to
   * the next turn, where it runs inline again (block-file.ts), unless the policy has paused
   * (about 64 × 5 µs of blocking per turn at most).
   */
  static readonly MAX_PER_TURN = 64;

  /** Since start: I/Os run inline, inline I/Os slower than their budget, pauses started. */
  readonly counts = { inline: 0, slow: 0, pauses: 0 };
  private offUntil = 0;
  private backoffMs = 0;
  /** The last 8 inline I/Os, newest in bit 0: 1 = slow. */
  private recent = 0;
  /** Inline I/Os since the last event-loop turn (reset by `nextTurn`). */
  private turnOps = 0;
  private readonly resetTurn = (): void => {
    this.turnOps = 0;
  };

  constructor(
    private readonly enabled: boolean,
    readonly now: () => number = () => performance.now(),
    private readonly nextTurn: (fn: () => void) => void = (fn) => setImmediate(fn),
  ) {}

  /** What a page-cache copy of `length` bytes may take: 40 µs plus 2 GB/s. A disk access takes longer. */
  static budgetMs(length: number): number {
    return 0.04 + length / 2e6;
  }

  allows(length: number): boolean {
    return this.wouldAllow(length) && this.turnOps < InlineIoPolicy.MAX_PER_TURN;
  }

  /**
   * Refused only because this turn's inline I/Os are used up: the I/O can wait for the next turn
   * and run inline there (a thread-pool trip costs more main-thread CPU than the copy itself).
   */
  deferrable(length: number): boolean {
    return this.turnOps >= InlineIoPolicy.MAX_PER_TURN && this.wouldAllow(length);
  }

  private wouldAllow(length: number): boolean {
    return this.enabled && length <= InlineIoPolicy.MAX_BYTES && this.now() >= this.offUntil;
  }

  /** Reports an inline I/O of `length` bytes that started at `startMs`. */
  took(startMs: number, length: number): void {
    if (this.turnOps++ === 0) this.nextTurn(this.resetTurn);
    const now = this.now();
    const slow = now - startMs > InlineIoPolicy.budgetMs(length);
    this.counts.inline++;
    if (slow) this.counts.slow++;
    this.recent = ((this.recent << 1) | (slow ? 1 : 0)) & 0xff;
    if (slow && popcount8(this.recent) >= InlineIoPolicy.SLOW_TRIP) {
      this.recent = 0;
      this.counts.pauses++;
      this.backoffMs = Math.min(InlineIoPolicy.MAX_BACKOFF_MS, Math.max(1, this.backoffMs * 4));
      this.offUntil = now + this.backoffMs;
    } else if (!slow && this.backoffMs > 0) {
      this.backoffMs = this.backoffMs < 1 ? 0 : this.backoffMs / 2;
    }
  }

  /** The current pause after slow inline I/O (ms; 0 = none). */
  get backoff(): number {
    return this.backoffMs;
  }
}

function popcount8(x: number): number {
  let n = 0;
  for (let b = x; b !== 0; b &= b - 1) n++;
  return n;
}

/** One policy per process: the event loop it protects is per process. */
export const inlineIo = new InlineIoPolicy(process.env.LIVESNAP_INLINE_IO !== "0");

/** Process-wide inline I/O counters (for metrics): inline I/Os, slow ones, pauses started. */
export function inlineIoStats(): { inline: number; slow: number; pauses: number } {
  return { ...inlineIo.counts };
}
