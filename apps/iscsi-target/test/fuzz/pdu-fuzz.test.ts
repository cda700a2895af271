// Seeded fuzz: mutated login sequences and Full Feature Phase PDUs against a live target while a
// clean session keeps writing and verifying. The target must stay up and the clean session
// must never see an error. LIVESNAP_FUZZ_ITERATIONS / LIVESNAP_FUZZ_SEED scale and replay it.
import { randomBytes } from "node:crypto";
import { TargetOpcode } from "@livesnap/iscsi";
import { afterAll, beforeAll, expect, it } from "vitest";
import { fuzzOne, prng } from "../helpers/fuzz.js";
import { RawInitiator, read10, TEST_UNIT_READY, write10 } from "../helpers/raw-initiator.js";
import { startTestTarget, TEST_IQN, type TestTarget } from "../helpers/target.js";

const ITERATIONS = Number(process.env.LIVESNAP_FUZZ_ITERATIONS ?? 150);
const SEED = Number(process.env.LIVESNAP_FUZZ_SEED ?? 0x5eed1234);

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget({ sizeBytes: 4 * 1024 * 1024, keepalive: { intervalMs: 0 } });
});
afterAll(async () => {
  await t.close();
});

it(`survives ${ITERATIONS} fuzzed connections (seed ${SEED}) while a clean session keeps its data`, async () => {
  const clean = await RawInitiator.connect(t.port);
  await clean.login({ targetName: TEST_IQN, initiatorName: "iqn.2026-11.test:clean" });
  clean.command({ cdb: TEST_UNIT_READY, edtl: 0 });
  await clean.expect(TargetOpcode.scsiResponse);

  let stop = false;
  let verified = 0;
  const cleanLoop = (async () => {
    let lba = 0;
    while (!stop) {
      const data = randomBytes(4096);
      const w = clean.command({
        cdb: write10(lba, 8),
        write: true,
        edtl: 4096,
        immediateData: data.subarray(0, 4096),
      });
      const wr = await clean.serveWrite(w, data);
      expect(wr.bhs[3]).toBe(0);
      const r = clean.command({ cdb: read10(lba, 8), read: true, edtl: 4096 });
      const back = await clean.collectRead(r, 4096);
      expect(back.data.equals(data)).toBe(true);
      verified++;
      lba = (lba + 8) % 4096;
    }
  })();

  const rand = prng(SEED);
  for (let i = 0; i < ITERATIONS; i++) await fuzzOne(rand, t.port, TEST_IQN);
  stop = true;
  await cleanLoop;
  expect(clean.closed).toBe(false);
  expect(verified).toBeGreaterThan(0);

  // And a new initiator can still log in.
  const fresh = await RawInitiator.connect(t.port);
  const rsp = await fresh.login({ targetName: TEST_IQN, initiatorName: "iqn.2026-11.test:fresh" });
  expect(rsp.bhs[36]).toBe(0);
  fresh.close();
  clean.close();
}, 120_000);
