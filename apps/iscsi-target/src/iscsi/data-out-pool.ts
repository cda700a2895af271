// Data-Out and Data-In buffers recycled from one command to the next. Every buffer allocated for
// a transfer is external memory to V8, and V8 starts a full mark-compact after every ~64 MiB of
// it: at 128 KiB per command that was a full GC every few hundred commands, the largest single
// cost of a sequential load. A buffer comes back only when nobody holds it any more (see Session
// and ScsiTask: a GOOD write without Data-In, the engine copying what it keeps past its ack; a
// read once the socket's write of its last Data-In PDU has completed).

/** Smallest size class: smaller transfers round up to it. */
const MIN_CLASS = 4096;
/** Larger transfers are allocated per command and left to the GC: rare, and big to keep. */
const MAX_CLASS = 16 * 1024 * 1024;

export class DataOutPool {
  /** Free buffers by size class (a power of two). */
  private readonly free = new Map<number, Buffer[]>();
  /** The same buffers as `free`: a buffer released while already free is a double release. */
  private readonly freeSet = new Set<Buffer>();
  private pooled = 0;

  constructor(
    /** Most bytes kept on the free lists; beyond it returned buffers go to the GC. */
    private readonly maxPooledBytes: number,
  ) {}

  /** Bytes on the free lists now. */
  get pooledBytes(): number {
    return this.pooled;
  }

  /**
   * A buffer of at least `n` bytes with UNINITIALISED contents (an earlier command's data): the
   * caller must write or zero every byte it exposes. Hand back the same Buffer to `release`.
   */
  take(n: number): Buffer {
    const size = sizeClass(n);
    if (size === 0) return Buffer.allocUnsafeSlow(n);
    const list = this.free.get(size);
    const buf = list?.pop();
    if (buf) {
      this.pooled -= size;
      this.freeSet.delete(buf);
      return buf;
    }
    return Buffer.allocUnsafeSlow(size);
  }

  /**
   * Give back a buffer from `take` that no one references any more. Throws when it is free
   * already: two later commands would share it (owners clear their reference as they release).
   */
  release(buf: Buffer): void {
    if (this.freeSet.has(buf)) throw new Error("pool buffer released twice");
    const size = buf.length;
    if (sizeClass(size) !== size || this.pooled + size > this.maxPooledBytes) return;
    let list = this.free.get(size);
    if (!list) {
      list = [];
      this.free.set(size, list);
    }
    list.push(buf);
    this.freeSet.add(buf);
    this.pooled += size;
  }
}

/** The power-of-two class for `n` bytes, or 0 when `n` is too large to pool. */
function sizeClass(n: number): number {
  if (n > MAX_CLASS) return 0;
  let size = MIN_CLASS;
  while (size < n) size *= 2;
  return size;
}

/** The process's pool: 32 MiB covers QD 32 of 1 MiB writes, or 256 commands of 128 KiB. */
export const dataOutPool = new DataOutPool(32 * 1024 * 1024);
