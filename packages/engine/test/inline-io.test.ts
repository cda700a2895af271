// The inline-I/O policy: fast cached I/O stays inline, an isolated slow one (preemption) changes
// nothing, repeated slow ones send the next I/Os to the pool for a pause that grows with repeated
// slowness and shrinks with fast I/O.
import { describe, expect, it } from "vitest";
import { FsBlockStorage } from "../src/index.js";
import { InlineIoPolicy, inlineIo } from "../src/inline-io.js";
import { withTempDir } from "./helpers.js";

function policy(): { p: InlineIoPolicy; clock: { t: number } } {
  const clock = { t: 1000 };
  return { p: new InlineIoPolicy(true, () => clock.t), clock };
}

describe("InlineIoPolicy", () => {
  it("allows small I/O when enabled", () => {
    const { p } = policy();
    expect(p.allows(4096)).toBe(true);
    expect(p.allows(InlineIoPolicy.MAX_BYTES + 1)).toBe(false);
    expect(new InlineIoPolicy(false).allows(1)).toBe(false);
  });

  it("a slow inline I/O pauses inline I/O; repeated slowness grows the pause, fast I/O shrinks it", () => {
    const { p, clock } = policy();
    const slow = (): void => {
      const start = clock.t;
      clock.t += 5; // 5 ms: a disk access, not a cached copy
      p.took(start, 4096);
    };
    // One or two slow ones among the last 8: a preempted process, not a disk. Inline goes on.
    slow();
    slow();
    expect(p.backoff).toBe(0);
    expect(p.allows(4096)).toBe(true);
    // The third: the disk is serving. A pause of 1 ms, then 4 ms after the next three...
    slow();
    expect(p.backoff).toBe(1);
    expect(p.allows(4096)).toBe(false);
    clock.t += 1;
    expect(p.allows(4096)).toBe(true);
    slow();
    slow();
    expect(p.backoff).toBe(1);
    slow();
    expect(p.backoff).toBe(4);
    for (let i = 0; i < 30; i++) slow();
    expect(p.counts.pauses).toBeGreaterThanOrEqual(5);
    expect(p.counts.slow).toBe(p.counts.inline);
    expect(p.backoff).toBe(InlineIoPolicy.MAX_BACKOFF_MS);
    clock.t += InlineIoPolicy.MAX_BACKOFF_MS;
    // A cached 4 KiB copy within its budget halves the pause each time, down to none.
    for (let i = 0; i < 12; i++) p.took(clock.t, 4096);
    expect(p.backoff).toBe(0);
    expect(p.allows(4096)).toBe(true);
  });

  it("at most MAX_PER_TURN inline I/Os per event-loop turn (a loop of awaited I/Os must yield)", () => {
    const clock = { t: 1000 };
    const turns: (() => void)[] = [];
    const p = new InlineIoPolicy(
      true,
      () => clock.t,
      (fn) => turns.push(fn),
    );
    for (let i = 0; i < InlineIoPolicy.MAX_PER_TURN; i++) {
      expect(p.allows(4096)).toBe(true);
      p.took(clock.t, 4096);
    }
    expect(p.allows(4096)).toBe(false);
    expect(turns.length).toBe(1);
    (turns.shift() as () => void)();
    expect(p.allows(4096)).toBe(true);
  });

  it("the budget scales with the length", () => {
    const { p, clock } = policy();
    const start = clock.t;
    clock.t += 0.05; // 50 µs: too slow for 4 KiB, fine for 32 KiB
    for (let i = 0; i < 8; i++) p.took(start, 32 << 10);
    expect(p.backoff).toBe(0);
    for (let i = 0; i < 3; i++) p.took(start, 4096);
    expect(p.backoff).toBe(1);
  });

  it("I/O past a turn's inline budget waits for the next turn and runs inline there, not in the thread pool", async () => {
    await withTempDir(async (dir) => {
      const f = await new FsBlockStorage(dir).open("f");
      const count = 3 * InlineIoPolicy.MAX_PER_TURN + 8;
      const before = { ...inlineIo.counts };
      let turns = 0;
      const tick = (): void => {
        turns++;
        if (turns < 10) setImmediate(tick);
      };
      setImmediate(tick);
      // All issued in one turn, as a commit round's finished tails issue their overwrites.
      const writes = Array.from({ length: count }, (_, i) => f.write(Buffer.alloc(4096, i & 0xff), i * 4096));
      await Promise.all(writes);
      const turnsTaken = turns;
      const back = Buffer.alloc(4096);
      for (let i = 0; i < count; i += 37) {
        await f.read(back, i * 4096);
        expect(back.every((b) => b === (i & 0xff))).toBe(true);
      }
      await f.close();
      if (inlineIo.counts.pauses === before.pauses && process.env.LIVESNAP_INLINE_IO !== "0") {
        // Every write ran inline (a slow-disk pause on a loaded machine is the only excuse)...
        expect(inlineIo.counts.inline - before.inline).toBeGreaterThanOrEqual(count);
        // ...spread over turns of the event loop, the budget's purpose.
        expect(turnsTaken).toBeGreaterThanOrEqual(3);
      }
    });
  });

  it("a loop of awaited cached writes on a real file still lets timers run", async () => {
    await withTempDir(async (dir) => {
      const f = await new FsBlockStorage(dir).open("f");
      const buf = Buffer.alloc(4096, 7);
      let timerRanAt = -1;
      let i = 0;
      setTimeout(() => {
        timerRanAt = i;
      }, 0);
      for (; i < 5000; i++) await f.write(buf, (i % 256) * 4096);
      await f.close();
      // Without the per-turn cap (inline I/O on) the timer would only run after the loop.
      expect(timerRanAt).toBeGreaterThanOrEqual(0);
      expect(timerRanAt).toBeLessThan(5000);
    });
  });
});
