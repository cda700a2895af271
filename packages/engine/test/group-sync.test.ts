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

describe("GroupSync riders", () => {
  it("a rider arriving during a round does not start one of its own: it goes with the next eager round", async () => {
    const rounds: number[] = [];
    let release!: () => void;
    const sync = new GroupSync(async () => {
      rounds.push(performance.now());
      await new Promise<void>((r) => {
        release = r;
      });
    }, 60_000);
    const first = sync.sync();
    await Promise.resolve();
    let rode = false;
    const rider = sync.ride().then(() => {
      rode = true;
    });
    release(); // the first round ends with only the rider waiting
    await first;
    await new Promise((r) => setTimeout(r, 5));
    expect(rounds.length).toBe(1); // no round for the rider alone
    expect(rode).toBe(false);
    const eager = sync.sync(); // the next writer's round takes the rider along
    await Promise.resolve();
    release();
    await Promise.all([eager, rider]);
    expect(rounds.length).toBe(2);
  });

  it("a rider alone gets its round after delayMs of quiet", async () => {
    const { rounds, sync } = counting();
    const t0 = performance.now();
    await sync.ride();
    expect(rounds.length).toBe(1);
    expect((rounds[0] as number) - t0).toBeGreaterThanOrEqual(15);
  });

  it("a lazy request arriving during a round still gets the round right after it", async () => {
    const rounds: number[] = [];
    // A lazy delay far beyond the test: only the running round can hand over to the next.
    const sync = new GroupSync(async () => {
      rounds.push(performance.now());
      await new Promise((r) => setTimeout(r, 2));
    }, 60_000);
    const first = sync.sync();
    await Promise.resolve();
    const lazy = sync.sync(true);
    const late = new Promise((r) => setTimeout(() => r("delayed"), 5000));
    expect(await Promise.race([Promise.all([first, lazy]), late])).not.toBe("delayed");
    expect(rounds.length).toBe(2);
  });

  it("a failed round rejects its riders with the error", async () => {
    const sync = new GroupSync(async () => {
      throw new Error("EIO");
    }, 1);
    await expect(sync.ride()).rejects.toThrow("EIO");
  });
});
