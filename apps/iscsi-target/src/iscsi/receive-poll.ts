// When a connection busy-polls its socket for the next request instead of going back to epoll.
//
// On a VM whose idle vCPUs halt at once, an initiator at queue depth 1 on another vCPU costs two
// halted-vCPU wake-ups per command (its and ours: an IPI and a VM exit each, ~30 µs apiece on a
// Firecracker guest). After the last response of an idle connection, a short spin of non-blocking
// reads keeps our vCPU awake, so the next request is picked up without our wake-up (the Linux
// busy_poll / SPDK idea, bounded). It only pays when requests come back quickly, and it costs CPU,
// so it is adaptive: a connection spins only after a flush that answered one command (the
// connection checks that), only while the gaps it saw between a response and the next request were
// short, while no other connection of the process is receiving (several busy
// connections keep the loop busy anyway, and a spin would delay them), and it stops (backing off
// like the engine's inline I/O) when most spins came back empty.

/** Gaps (response sent -> next request read) above this many budgets: spinning would not reach. */
const GAP_BUDGETS = 4;
/** Spins in a row, without an event-loop turn between, before the connection yields once. */
const MAX_SPINS_PER_TURN = 32;
/** Misses among the last 16 spins that stop spinning for a while. */
const MISS_TRIP = 8;
const MAX_BACKOFF_MS = 1000;
/** Time another connection's traffic keeps every connection from spinning. */
const SHARED_QUIET_MS = 1;

/** LIVESNAP_BUSY_POLL_US: the spin budget in µs; 0 turns busy-polling off. */
export const DEFAULT_BUSY_POLL_US = 50;

export function busyPollBudgetUs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.LIVESNAP_BUSY_POLL_US;
  if (raw === undefined || raw === "") return DEFAULT_BUSY_POLL_US;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1000) {
    throw new Error(`LIVESNAP_BUSY_POLL_US must be a number of µs from 0 to 1000, got '${raw}'`);
  }
  return value;
}

/** Process-wide totals of every policy's counts (for metrics). */
const totals = { spins: 0, hits: 0, misses: 0 };
export function busyPollStats(): { spins: number; hits: number; misses: number } {
  return { ...totals };
}

/** Which connection of the process received last, and since when it has been the only one. */
const activity: { last: object | undefined; soleSinceMs: number } = { last: undefined, soleSinceMs: 0 };

export class ReceivePollPolicy {
  /** Since creation: spins started, spins that found a request, spins that ran out of budget. */
  readonly counts = { spins: 0, hits: 0, misses: 0 };
  /** Moving average of response -> next request gaps seen through epoll (ms). */
  private gapMs = Number.POSITIVE_INFINITY;
  private respondedAtMs = 0;
  /** The last 16 spins, newest in bit 0: 1 = miss. */
  private recent = 0;
  private offUntilMs = 0;
  private backoffMs = 0;
  private spinsThisTurn = 0;
  private readonly resetTurn = (): void => {
    this.spinsThisTurn = 0;
  };

  constructor(
    /** µs a spin may last; 0 = never spin. */
    readonly budgetUs: number,
    private readonly owner: object,
    readonly now: () => number = () => performance.now(),
    private readonly nextTurn: (fn: () => void) => void = (fn) => setImmediate(fn),
  ) {}

  /** Bytes arrived for the owner; `spun` when a spin read them. */
  received(spun: boolean): void {
    const now = this.now();
    if (activity.last !== this.owner) {
      activity.last = this.owner;
      activity.soleSinceMs = now;
    }
    if (!spun && this.respondedAtMs > 0) {
      const gap = now - this.respondedAtMs;
      this.gapMs = Number.isFinite(this.gapMs) ? this.gapMs * 0.75 + gap * 0.25 : gap;
    }
    this.respondedAtMs = 0;
  }

  /** The owner answered everything it had; returns whether to spin for the next request now. */
  responded(): boolean {
    const now = this.now();
    this.respondedAtMs = now;
    if (this.budgetUs <= 0 || now < this.offUntilMs) return false;
    if (activity.last !== this.owner || now - activity.soleSinceMs < SHARED_QUIET_MS) return false;
    if (!(this.gapMs * 1000 < this.budgetUs * GAP_BUDGETS)) return false;
    if (this.spinsThisTurn === 0) this.nextTurn(this.resetTurn);
    if (++this.spinsThisTurn > MAX_SPINS_PER_TURN) return false;
    this.counts.spins++;
    totals.spins++;
    return true;
  }

  /** The spin's outcome: `hit` when it read a request within the budget. */
  spun(hit: boolean): void {
    this.recent = ((this.recent << 1) | (hit ? 0 : 1)) & 0xffff;
    if (hit) {
      this.counts.hits++;
      totals.hits++;
      this.backoffMs = this.backoffMs / 2;
      // A request read by a spin came as fast as a spin can see: the gap is short.
      this.gapMs = Number.isFinite(this.gapMs) ? this.gapMs * 0.75 : 0;
      return;
    }
    this.counts.misses++;
    totals.misses++;
    if (popcount16(this.recent) >= MISS_TRIP) {
      this.recent = 0;
      this.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(1, this.backoffMs * 4));
      this.offUntilMs = this.now() + this.backoffMs;
      this.gapMs = Number.POSITIVE_INFINITY;
    }
  }
}

function popcount16(bits: number): number {
  let n = 0;
  for (let b = bits; b !== 0; b &= b - 1) n++;
  return n;
}
