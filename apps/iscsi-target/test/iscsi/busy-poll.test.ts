// Busy-polling connections (receive-poll.ts) with a real initiator in another process: qemu-io's
// back-to-back 4 KiB writes and reads at queue depth 1 are what the spin catches. Every read
// verifies its pattern, and the RAM LUN is checked afterwards, so a request framed out of order or
// a byte lost between the spin's reads and libuv's would fail. LIVESNAP_BUSY_POLL_US=0 never spins.
import { afterEach, describe, expect, it } from "vitest";
import { busyPollStats } from "../../src/iscsi/receive-poll.js";
import { RawInitiator, read10, TEST_UNIT_READY } from "../helpers/raw-initiator.js";
import { startTestTarget, TEST_IQN, type TestTarget } from "../helpers/target.js";
import { run } from "../helpers/tools.js";

const BLOCK = 4096;
const BLOCKS = 1024; // 4 MiB LUN

let target: TestTarget | undefined;
const savedEnv = process.env.LIVESNAP_BUSY_POLL_US;

afterEach(async () => {
  await target?.close();
  target = undefined;
  if (savedEnv === undefined) delete process.env.LIVESNAP_BUSY_POLL_US;
  else process.env.LIVESNAP_BUSY_POLL_US = savedEnv;
});

/** The pattern byte of block `i` in round `round` (never 0, so a zero block never matches). */
const pattern = (i: number, round: number): number => ((i * 37 + round * 101) % 255) + 1;

/** qemu-io commands: write a pattern to `count` blocks in a shuffled order, then read each back. */
function commands(count: number, round: number): { args: string[]; blocks: number[] } {
  const blocks = Array.from({ length: count }, (_, i) => (i * 389) % BLOCKS);
  const args: string[] = [];
  for (const b of blocks) args.push("-c", `write -P ${pattern(b, round)} ${b * BLOCK} ${BLOCK}`);
  for (const b of blocks) args.push("-c", `read -P ${pattern(b, round)} ${b * BLOCK} ${BLOCK}`);
  return { args, blocks };
}

async function qemuIo(t: TestTarget, args: string[]): Promise<void> {
  const r = await run("qemu-io", ["-f", "raw", ...args, t.url()], 120_000);
  expect(r.stderr).toBe("");
  expect(r.stdout).not.toMatch(/fail|error/i);
  expect(r.code).toBe(0);
}

describe("busy-polling connections", () => {
  it("serve a real initiator's QD 1 writes and reads intact, many of them read by the spin", async () => {
    // A generous budget: the test shares its CPUs with other test files.
    process.env.LIVESNAP_BUSY_POLL_US = "200";
    target = await startTestTarget({ sizeBytes: BLOCKS * BLOCK });
    const before = busyPollStats();
    const { args, blocks } = commands(1000, 1);
    await qemuIo(target, args);
    const after = busyPollStats();
    const data = target.backends[0]?.data as Buffer;
    for (const b of blocks) {
      const block = data.subarray(b * BLOCK, (b + 1) * BLOCK);
      expect(block.every((x) => x === pattern(b, 1))).toBe(true);
    }
    expect(after.spins).toBeGreaterThan(before.spins);
    // Requests were framed from the spin's reads, not only from libuv's.
    expect(after.hits - before.hits).toBeGreaterThan(50);
  });

  it("never spin with LIVESNAP_BUSY_POLL_US=0, and serve the same workload", async () => {
    process.env.LIVESNAP_BUSY_POLL_US = "0";
    target = await startTestTarget({ sizeBytes: BLOCKS * BLOCK });
    const before = busyPollStats();
    await qemuIo(target, commands(300, 2).args);
    expect(busyPollStats()).toEqual(before);
  });

  it("spin after a flush that answered one command, not after a batch", async () => {
    // A large budget, so that only the batch rule keeps the batches from spinning.
    process.env.LIVESNAP_BUSY_POLL_US = "1000";
    target = await startTestTarget({ sizeBytes: BLOCKS * BLOCK });
    const ini = await RawInitiator.connect(target.port);
    try {
      expect((await ini.login({ targetName: TEST_IQN })).bhs[36]).toBe(0);
      ini.command({ cdb: TEST_UNIT_READY, edtl: 0 });
      await ini.next();
      // Batches of 8 reads in one write, all answered in one flush: never a spin.
      const before = busyPollStats();
      for (let batch = 0; batch < 20; batch++) {
        ini.socket.cork();
        for (let i = 0; i < 8; i++) ini.command({ cdb: read10(i * 8, 8), read: true, edtl: BLOCK });
        ini.socket.uncork();
        for (let i = 0; i < 8; i++) expect((await ini.next())?.bhs[3]).toBe(0);
      }
      expect(busyPollStats().spins).toBe(before.spins);
      // One at a time (this initiator shares the target's event loop, so its spins come back
      // empty; what counts is that they start).
      for (let i = 0; i < 20; i++) {
        ini.command({ cdb: read10(i * 8, 8), read: true, edtl: BLOCK });
        expect((await ini.next())?.bhs[3]).toBe(0);
      }
      expect(busyPollStats().spins).toBeGreaterThan(before.spins);
    } finally {
      ini.close();
    }
  });
});
