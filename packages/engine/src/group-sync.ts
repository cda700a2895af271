// Coalesces concurrent durability requests: a caller is satisfied by the first round that *starts*
// after its call, so N concurrent callers share one fdatasync instead of paying N.
//
// A lazy request (a write-back tail: its write is already acknowledged, nobody waits on it but
// the chunk it holds) does not start an idle round at once: the round starts after `delayMs`, or
// as soon as an eager request arrives. At a queue depth of one this turns one round per write
// (two fdatasyncs each) into one round per `delayMs` of writes.
//
// A rider (an atomic write's retire: durable already, it only frees chunks) never makes a round
// of its own while one runs or follows: it goes with the next round anybody starts, or after
// `delayMs` of quiet. A lazy request arriving during a round would start the next one right after
// it, and the next writer's eager round would then queue behind it.
interface Waiter {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

function waiter(): Waiter {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export class GroupSync {
  private running = false;
  private next: Waiter | null = null;
  private riders: Waiter | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly round: () => Promise<void>,
    private readonly delayMs = 0,
  ) {}

  sync(lazy = false): Promise<void> {
    this.next ??= waiter();
    const wait = this.next.promise;
    if (this.running) return wait;
    if (lazy && this.delayMs > 0) {
      this.armTimer();
      return wait;
    }
    void this.drain();
    return wait;
  }

  /** Resolves with the next round anybody starts after this call, or one of its own after delayMs. */
  ride(): Promise<void> {
    this.riders ??= waiter();
    const wait = this.riders.promise;
    if (!this.running) {
      if (this.delayMs > 0) this.armTimer();
      else void this.drain();
    }
    return wait;
  }

  private armTimer(): void {
    this.timer ??= setTimeout(() => {
      this.timer = null;
      if (!this.running) void this.drain();
    }, this.delayMs);
  }

  private async drain(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.running = true;
    // The first pass may be riders alone (their timer fired); later passes need a caller.
    let first = true;
    while (this.next || (first && this.riders)) {
      first = false;
      const covered = [this.next, this.riders];
      this.next = null;
      this.riders = null;
      try {
        await this.round();
        for (const w of covered) w?.resolve();
      } catch (err) {
        for (const w of covered) w?.reject(err);
      }
    }
    this.running = false;
    if (this.riders) this.armTimer();
  }
}
