// Coalesces concurrent durability requests: a caller is satisfied by the first round that *starts*
// after its call, so N concurrent callers share one fdatasync instead of paying N.
export class GroupSync {
  private running = false;
  private next: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | null = null;

  constructor(private readonly round: () => Promise<void>) {}

  sync(): Promise<void> {
    if (this.next) return this.next.promise;
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.next = { promise, resolve, reject };
    if (!this.running) void this.drain();
    return promise;
  }

  private async drain(): Promise<void> {
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
