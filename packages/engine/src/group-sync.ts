// Coalesces concurrent durability requests: a caller is satisfied by the first round that *starts*
// after its call, so N concurrent callers share one fdatasync instead of paying N.
//
// A lazy request (a write-back tail: its write is already acknowledged, nobody waits on it but
// the chunk it holds) does not start an idle round at once: the round starts after `delayMs`, or
// as soon as an eager request arrives. At a queue depth of one this turns one round per write
// (two fdatasyncs each) into one round per `delayMs` of writes.
export class GroupSync {
  private running = false;
  private next: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly round: () => Promise<void>,
    private readonly delayMs = 0,
  ) {}

  sync(lazy = false): Promise<void> {
    if (!this.next) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.next = { promise, resolve, reject };
    }
    const waiter = this.next.promise;
    if (this.running) return waiter;
    if (lazy && this.delayMs > 0) {
      this.timer ??= setTimeout(() => {
        this.timer = null;
        if (!this.running) void this.drain();
      }, this.delayMs);
      return waiter;
    }
    void this.drain();
    return waiter;
  }

  private async drain(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.running = true;
    while (this.next) {
      const waiter = this.next;
      this.next = null;
      try {
        await this.round();
        waiter.resolve();
      } catch (err) {
        waiter.reject(err);
      }
    }
    this.running = false;
  }
}
