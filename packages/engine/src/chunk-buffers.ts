// Recycled chunk-sized buffers for the write-back path. Each acknowledged first write holds two
// (the old chunk it preserves and a copy of its data) until its tail ends; fresh ones are external
// memory, and allocating two per write made the garbage collector ~10% of the event loop's time.

export class ChunkBuffers {
  private readonly free: Buffer[] = [];

  constructor(
    readonly size: number,
    /** Spare buffers kept at most (a burst beyond it allocates; the GC takes the rest). */
    private readonly max = 512,
  ) {}

  /** A buffer of `size` bytes with stale content: the caller overwrites all of it. */
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /** Returns a buffer no I/O or caller uses any more. */
  give(buf: Buffer): void {
    if (buf.length === this.size && buf.byteOffset === 0 && this.free.length < this.max) this.free.push(buf);
  }
}
