// Groups the I/Os a file received in one event-loop turn into runs of adjacent ranges, so each
// run costs one readv/writev instead of one thread-pool round trip per I/O. On this kind of
// machine a thread-pool submission costs more main-thread CPU than the 4 KiB copy it carries.

export interface PositionedIo {
  readonly buf: Uint8Array;
  readonly position: number;
}

/** Most buffers in one readv/writev: well under IOV_MAX (1024 on Linux). */
export const MAX_RUN_BUFFERS = 256;
/** Most bytes in one run: a larger one gains nothing and holds one worker thread longer. */
export const MAX_RUN_BYTES = 1 << 20;
/**
 * I/Os above this size are issued on their own: their copy dominates the submission cost, and
 * several of them in parallel on the pool's threads beat one long readv (merging 128 KiB
 * sequential reads halved their throughput).
 */
export const MAX_MERGED_IO = 32 << 10;

/**
 * Splits `ios` into runs: each run's buffers are contiguous in the file, in order. Sorting is
 * stable, and an I/O overlapping another never joins its run (it is issued on its own, as it
 * would have been without batching: the engine never issues overlapping I/O concurrently).
 */
export function toRuns<T extends PositionedIo>(ios: readonly T[]): T[][] {
  if (ios.length === 1) return [[ios[0] as T]];
  const sorted = [...ios].sort((a, b) => a.position - b.position);
  const runs: T[][] = [];
  let run: T[] = [];
  let end = -1;
  let bytes = 0;
  const mergeable = (len: number): boolean => len > 0 && len <= MAX_MERGED_IO;
  for (const io of sorted) {
    const len = io.buf.length;
    if (
      run.length > 0 &&
      io.position === end &&
      mergeable(len) &&
      mergeable((run[0] as T).buf.length) &&
      run.length < MAX_RUN_BUFFERS &&
      bytes + len <= MAX_RUN_BYTES
    ) {
      run.push(io);
      end += len;
      bytes += len;
      continue;
    }
    if (run.length > 0) runs.push(run);
    run = [io];
    end = io.position + len;
    bytes = len;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}
