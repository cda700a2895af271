// ReceivePollPolicy on a fake clock: when a connection spins for its next request and when not.
import { describe, expect, it } from "vitest";
import {
  busyPollBudgetUs,
  busyPollStats,
  DEFAULT_BUSY_POLL_US,
  ReceivePollPolicy,
} from "../../src/iscsi/receive-poll.js";

/** A policy on a clock the test moves (ms), with event-loop turns the test runs. */
function fixture(budgetUs = 50) {
  const clock = { ms: 1000 };
  const turns: (() => void)[] = [];
  const owner = {};
  const policy = new ReceivePollPolicy(
    budgetUs,
    owner,
    () => clock.ms,
    (fn) => turns.push(fn),
  );
  const turn = (): void => {
    for (const fn of turns.splice(0)) fn();
  };
  /** A request read through epoll `gapUs` after the last response, then its response. */
  const exchange = (gapUs: number): boolean => {
    clock.ms += gapUs / 1000;
    policy.received(false);
    clock.ms += 0.01;
    return policy.responded();
  };
  /** Exchanges 30 µs apart until one spins; returns the ms that took (Infinity past 10 ms). */
  const untilSpin = (): number => {
    const start = clock.ms;
    while (clock.ms - start < 10) if (exchange(30)) return clock.ms - start;
    return Number.POSITIVE_INFINITY;
  };
  return { clock, policy, turn, exchange, untilSpin, owner };
}

/**
 * Makes `f`'s connection the only one that received anything for 2 ms, then answers: no gap
 * measured yet, so no spin.
 */
function settle(f: ReturnType<typeof fixture>): void {
  f.policy.received(false);
  f.clock.ms += 2;
  expect(f.policy.responded()).toBe(false);
}

describe("ReceivePollPolicy", () => {
  it("spins once the gaps between a response and the next request are short", () => {
    const f = fixture();
    settle(f);
    // Gaps of 80 µs (our own wake-up included) are within 4 budgets: the spin may catch them.
    expect(f.exchange(80)).toBe(true);
    f.policy.spun(true);
    expect(f.policy.counts).toEqual({ spins: 1, hits: 1, misses: 0 });
  });

  it("does not spin when requests come back slowly", () => {
    const f = fixture();
    settle(f);
    for (let i = 0; i < 20; i++) expect(f.exchange(500)).toBe(false);
    expect(f.policy.counts.spins).toBe(0);
  });

  it("never spins with a budget of 0 (LIVESNAP_BUSY_POLL_US=0)", () => {
    const f = fixture(0);
    settle(f);
    for (let i = 0; i < 20; i++) expect(f.exchange(10)).toBe(false);
  });

  it("does not spin while another connection of the process receives", () => {
    const a = fixture();
    const b = new ReceivePollPolicy(
      50,
      {},
      () => a.clock.ms,
      () => {},
    );
    settle(a);
    expect(a.exchange(30)).toBe(true);
    a.policy.spun(true);
    b.received(false); // another connection's request
    // Not before 1 ms without the other connection's traffic.
    const waited = a.untilSpin();
    expect(waited).toBeGreaterThanOrEqual(1);
    expect(waited).toBeLessThan(1.2);
  });

  it("stops after mostly empty spins, for a backoff that grows, and resumes", () => {
    const f = fixture();
    settle(f);
    let spins = 0;
    // Every spin misses: 8 misses stop spinning.
    while (f.exchange(80)) {
      f.policy.spun(false);
      f.turn();
      spins++;
      expect(spins).toBeLessThanOrEqual(8);
    }
    expect(spins).toBe(8);
    expect(f.policy.counts.misses).toBe(8);
    // Off for the backoff (1 ms) even with short gaps, then on again.
    const first = f.untilSpin();
    expect(first).toBeGreaterThanOrEqual(0.9);
    expect(first).toBeLessThan(1.2);
    for (let i = 0; i < 7; i++) {
      f.policy.spun(false);
      f.turn();
      expect(f.exchange(30)).toBe(true);
    }
    f.policy.spun(false);
    // The second trip backs off 4 ms.
    const second = f.untilSpin();
    expect(second).toBeGreaterThanOrEqual(3.9);
    expect(second).toBeLessThan(4.2);
  });

  it("yields to the event loop after 32 spins in one turn", () => {
    const f = fixture();
    settle(f);
    let spun = 0;
    while (f.exchange(20)) {
      f.policy.spun(true);
      spun++;
      if (spun > 100) break;
    }
    expect(spun).toBe(32);
    f.turn();
    expect(f.exchange(20)).toBe(true);
  });

  it("adds its counts to the process-wide totals", () => {
    const before = busyPollStats();
    const f = fixture();
    settle(f);
    expect(f.exchange(40)).toBe(true);
    f.policy.spun(true);
    expect(f.exchange(40)).toBe(true);
    f.policy.spun(false);
    const after = busyPollStats();
    expect(after.spins - before.spins).toBe(2);
    expect(after.hits - before.hits).toBe(1);
    expect(after.misses - before.misses).toBe(1);
  });
});

describe("busyPollBudgetUs", () => {
  it("reads LIVESNAP_BUSY_POLL_US: unset is the default, 0 is off, junk is an error", () => {
    expect(busyPollBudgetUs({})).toBe(DEFAULT_BUSY_POLL_US);
    expect(busyPollBudgetUs({ LIVESNAP_BUSY_POLL_US: "" })).toBe(DEFAULT_BUSY_POLL_US);
    expect(busyPollBudgetUs({ LIVESNAP_BUSY_POLL_US: "0" })).toBe(0);
    expect(busyPollBudgetUs({ LIVESNAP_BUSY_POLL_US: "120" })).toBe(120);
    expect(() => busyPollBudgetUs({ LIVESNAP_BUSY_POLL_US: "fast" })).toThrow(/LIVESNAP_BUSY_POLL_US/);
    expect(() => busyPollBudgetUs({ LIVESNAP_BUSY_POLL_US: "-5" })).toThrow(/0 to 1000/);
    expect(() => busyPollBudgetUs({ LIVESNAP_BUSY_POLL_US: "5000" })).toThrow(/0 to 1000/);
  });
});
