// Model-based property test: random admit/execute interleavings (execution order shuffled against
// admission order), unmaps, cancels, snapshot create/delete/rollback, snapshot reads racing
// writes, reopen — every view compared with the reference model, on real files.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { openPool, type VolumeHandle, type WriteTicket } from "../src/index.js";
import { firstDiff, pattern, withTempDir } from "./helpers.js";
import { VolumeModel } from "./model.js";

const BS = 512;
const SIZE = 32 * 1024;

type Op =
  | { k: "admit"; off: number; len: number; tag: number; unmap: boolean }
  | { k: "exec"; pick: number }
  | { k: "cancel"; pick: number }
  | { k: "snap" }
  | { k: "del"; pick: number }
  | { k: "readSnap"; pick: number }
  | { k: "settle"; reverse: boolean }
  | { k: "reopen" }
  | { k: "rollback"; pick: number }
  | { k: "flush" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({
        off: fc.nat(SIZE / BS - 1),
        len: fc.integer({ min: 1, max: 24 }),
        tag: fc.nat(),
        unmap: fc.boolean(),
      })
      .map((r) => ({
        k: "admit" as const,
        off: r.off * BS,
        len: Math.min(r.len * BS, SIZE - r.off * BS),
        tag: r.tag,
        unmap: r.unmap && r.tag % 4 === 0,
      })),
  },
  { weight: 5, arbitrary: fc.nat().map((pick) => ({ k: "exec" as const, pick })) },
  { weight: 1, arbitrary: fc.nat().map((pick) => ({ k: "cancel" as const, pick })) },
  { weight: 2, arbitrary: fc.constant({ k: "snap" as const }) },
  { weight: 1, arbitrary: fc.nat().map((pick) => ({ k: "del" as const, pick })) },
  { weight: 2, arbitrary: fc.nat().map((pick) => ({ k: "readSnap" as const, pick })) },
  { weight: 1, arbitrary: fc.boolean().map((reverse) => ({ k: "settle" as const, reverse })) },
  { weight: 1, arbitrary: fc.constant({ k: "reopen" as const }) },
  { weight: 1, arbitrary: fc.nat().map((pick) => ({ k: "rollback" as const, pick })) },
  { weight: 1, arbitrary: fc.constant({ k: "flush" as const }) },
);

interface Pending {
  ticket: WriteTicket;
  data: Buffer | null;
}

async function runProgram(dir: string, chunkSize: number, ops: Op[]): Promise<void> {
  let pool = await openPool({ dir, chunkSize });
  let vol: VolumeHandle = await pool.createVolume("v", { sizeBytes: SIZE, blockSize: BS });
  const model = new VolumeModel(SIZE);
  let pending: Pending[] = [];
  let inflight: Promise<unknown>[] = [];
  /** Seqs of tickets admitted and not yet finished (executed or cancelled). */
  const unfinished = new Set<number>();
  const checks: Promise<void>[] = [];
  let snapCounter = 0;

  const execute = (p: Pending): void => {
    model.events.push({
      seq: p.ticket.seq,
      offset: p.ticket.offset,
      data: p.data ?? Buffer.alloc(p.ticket.length),
    });
    // Every fifth write is FUA (synchronous path), every seventh atomic (journalled); the others
    // may be acknowledged write-back.
    const fua = p.ticket.seq % 5 === 0;
    const atomic = p.ticket.seq % 7 === 0;
    const run = !p.data
      ? vol.unmap(p.ticket)
      : atomic
        ? vol.writeAtomic(p.ticket, p.data)
        : vol.write(p.ticket, p.data, { fua });
    inflight.push(run.then(() => unfinished.delete(p.ticket.seq)));
  };

  const verifyAll = async (): Promise<void> => {
    const live = await vol.read(0, SIZE);
    const want = model.live();
    expect(firstDiff(live, want), "live view").toBe(-1);
    for (const r of vol.lbaStatus(0, SIZE)) {
      if (!r.mapped) expect(live.subarray(r.offset, r.offset + r.length).every((b) => b === 0)).toBe(true);
    }
    const names = vol.listSnapshots().map((s) => s.name);
    expect(names).toEqual(model.snapshots.map((s) => s.name));
    for (const s of model.snapshots) {
      const got = await vol.getSnapshot(s.name).read(0, SIZE);
      expect(firstDiff(got, model.snapshotView(s.name)), `snapshot ${s.name}`).toBe(-1);
    }
  };

  const settle = async (reverse: boolean): Promise<void> => {
    const order = reverse ? [...pending].reverse() : pending;
    pending = [];
    for (const p of order) execute(p);
    await Promise.all(inflight);
    await Promise.all(checks.splice(0));
    inflight = [];
    await verifyAll();
  };

  for (const op of ops) {
    switch (op.k) {
      case "admit": {
        const ticket = vol.admit(op.off, op.len);
        unfinished.add(ticket.seq);
        pending.push({ ticket, data: op.unmap ? null : pattern(op.tag, op.len) });
        break;
      }
      case "exec": {
        if (pending.length === 0) break;
        const [p] = pending.splice(op.pick % pending.length, 1);
        if (p) execute(p);
        break;
      }
      case "cancel": {
        if (pending.length === 0) break;
        const [p] = pending.splice(op.pick % pending.length, 1);
        if (p) {
          vol.cancel(p.ticket);
          unfinished.delete(p.ticket.seq);
        }
        break;
      }
      case "snap": {
        const name = `s${snapCounter++}`;
        const info = await vol.createSnapshot(name);
        model.snapshots.push({ name, seq: info.seq });
        break;
      }
      case "del": {
        if (model.snapshots.length === 0) break;
        const [s] = model.snapshots.splice(op.pick % model.snapshots.length, 1);
        if (s) await vol.deleteSnapshot(s.name);
        break;
      }
      case "readSnap": {
        // Exact only once every write that belongs to the snapshot has finished; later writes may race.
        const s = model.snapshots[op.pick % Math.max(1, model.snapshots.length)];
        if (!s || [...unfinished].some((seq) => seq < s.seq)) break;
        const want = model.snapshotView(s.name);
        checks.push(
          vol
            .getSnapshot(s.name)
            .read(0, SIZE)
            .then((got) => {
              expect(firstDiff(got, want), `racing read of ${s.name}`).toBe(-1);
            }),
        );
        break;
      }
      case "settle":
        await settle(op.reverse);
        break;
      case "flush":
        // Races the writes in flight; waits for the tails acknowledged so far.
        checks.push(vol.flush());
        break;
      case "reopen":
        await settle(false);
        await pool.close();
        pool = await openPool({ dir, chunkSize });
        vol = pool.getVolume("v");
        await verifyAll();
        break;
      case "rollback": {
        if (model.snapshots.length === 0) break;
        await settle(false);
        const s = model.snapshots[op.pick % model.snapshots.length] as { name: string; seq: number };
        const image = model.snapshotView(s.name);
        const maxSeq = Math.max(0, ...model.events.map((e) => e.seq), ...model.snapshots.map((x) => x.seq));
        await vol.rollback(s.name);
        model.events.push({ seq: maxSeq + 0.5, offset: 0, data: null, image });
        await verifyAll();
        break;
      }
    }
  }
  await settle(true);
  await pool.close();
}

describe("engine vs reference model", () => {
  it("matches the model under shuffled execution, snapshots, deletes, rollbacks and reopens", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1024, 4096),
        fc.array(opArb, { minLength: 5, maxLength: 40 }),
        (cs, ops) => withTempDir((dir) => runProgram(dir, cs, ops)),
      ),
      { numRuns: Number(process.env.LIVESNAP_MODEL_RUNS ?? 60) },
    );
  });
});
