// Uninitialised buffers carved from shared slabs. Every 128 KiB Data-Out buffer or joined PDU
// allocated on its own costs an mmap/munmap pair and GC pressure per I/O; carving them from a
// few MiB slabs costs one allocation per slab. A slab lives until its last slice is collected,
// so slices may be kept as long as anyone needs them (e.g. by a write-back tail).

const SLAB_BYTES = 4 * 1024 * 1024;
/** Larger requests get their own allocation: one would waste most of a slab. */
const MAX_SLICE = 1024 * 1024;

let slab: Buffer = Buffer.allocUnsafeSlow(0);
let used = 0;

/**
 * `n` bytes of UNINITIALISED memory (old data of earlier slices): the caller must write every
 * byte it later exposes. Slices are 8-byte aligned.
 */
export function allocSlice(n: number): Buffer {
  if (n > MAX_SLICE) return Buffer.allocUnsafeSlow(n);
  if (used + n > slab.length) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    used = 0;
  }
  const out = slab.subarray(used, used + n);
  used += (n + 7) & ~7;
  return out;
}
