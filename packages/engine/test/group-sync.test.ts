// Group commit: concurrent requests share a round; a lazy request (a write-back tail) lets an idle
// log gather more records for delayMs, and an eager request starts the round at once.
import { describe, expect, it } from "vitest";
import { GroupSync } from "../src/group-sync.js";

function counting(): { rounds: number[]; sync: GroupSync } {
  const rounds: number[] = [];
  const sync = new GroupSync(async () => {
    rounds.push(performance.now());
    await new Promise((r) => setTimeout(r, 2));
  }, 20);
  return { rounds, sync };
}

describe("GroupSync", () => {
  it("concurrent eager requests share one round; one arriving during a round gets the next", async () => {
    const { rounds, sync } = counting();
    const a = sync.sync();
    const b = sync.sync();
    await Promise.resolve();
    const c = sync.sync(); // the first round is running: c needs the next one
    await Promise.all([a, b, c]);
    expect(rounds.length).toBe(2);
  });

  it("lazy requests wait delayMs and share the round", async () => {
    const { rounds, sync } = counting();
    const t0 = performance.now();
    const lazy = Array.from({ length: 5 }, () => sync.sync(true));
    await new Promise((r) => setTimeout(r, 5));
    expect(rounds.length).toBe(0);
    await Promise.all(lazy);
    expect(rounds.length).toBe(1);
    expect((rounds[0] as number) - t0).toBeGreaterThanOrEqual(15);
  });

  it("an eager request starts the round a lazy one was waiting for", async () => {
    const rounds: number[] = [];
    // A lazy delay far beyond the test: only the eager request can start this round.
    const sync = new GroupSync(async () => {
      rounds.push(performance.now());
    }, 60_000);
    const lazy = sync.sync(true);
    await new Promise((r) => setTimeout(r, 2));
    expect(rounds.length).toBe(0);
    await Promise.all([sync.sync(), lazy]);
    expect(rounds.length).toBe(1);
  });
});
