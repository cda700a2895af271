// Folds a storm of `blockmap.delta` events into at most one webview update per interval per volume,
// as sorted, merged chunk runs. The server already coalesces to ~10 deltas/s per volume; a panel also
// has to survive many volumes, a busy webview and bursts after a reconnect. Pure apart from the
// injected timer.
import type { ChunkRuns } from "@livesnap/protocol";

export interface Scheduler {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realScheduler: Scheduler = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Sorted, non-overlapping, non-adjacent runs covering exactly the chunks of the given runs. */
export function mergeRuns(runs: Iterable<readonly [number, number]>): ChunkRuns {
  const sorted = [...runs].filter((r) => r[1] > 0).sort((a, b) => a[0] - b[0]);
  const out: ChunkRuns = [];
  for (const [first, count] of sorted) {
    const last = out[out.length - 1];
    if (last && first <= last[0] + last[1]) last[1] = Math.max(last[1], first + count - last[0]);
    else out.push([first, count]);
  }
  return out;
}

export class WriteCoalescer {
  /** Past this many runs a volume's pending set collapses to one covering run: never loses a write. */
  static readonly MAX_PENDING_RUNS = 4096;
  private readonly pending = new Map<string, ChunkRuns>();
  private timer: unknown;
  private lastFlush = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly intervalMs: number,
    private readonly emit: (volume: string, runs: ChunkRuns) => void,
    private readonly scheduler: Scheduler = realScheduler,
    private readonly now: () => number = Date.now,
  ) {}

  add(volume: string, runs: ChunkRuns): void {
    if (runs.length === 0) return;
    const merged = mergeRuns([...(this.pending.get(volume) ?? []), ...runs]);
    this.pending.set(volume, merged.length > WriteCoalescer.MAX_PENDING_RUNS ? collapse(merged) : merged);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    // Leading edge: the first write after a quiet spell shows at once; later ones wait their turn.
    const wait = Math.max(0, this.lastFlush + this.intervalMs - this.now());
    this.timer = this.scheduler.setTimeout(() => this.flush(), wait);
  }

  flush(): void {
    if (this.timer !== undefined) this.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    this.lastFlush = this.now();
    const batch = [...this.pending];
    this.pending.clear();
    for (const [volume, runs] of batch) this.emit(volume, runs);
  }

  dispose(): void {
    if (this.timer !== undefined) this.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }
}

function collapse(runs: ChunkRuns): ChunkRuns {
  const first = runs[0];
  const last = runs[runs.length - 1];
  if (!first || !last) return [];
  return [[first[0], last[0] + last[1] - first[0]]];
}
