// Seeded fuzz: mutated login sequences and Full Feature Phase PDUs against a live target while a
// clean session keeps writing and verifying. The target must stay up and the clean session
// must never see an error. LIVESNAP_FUZZ_ITERATIONS / LIVESNAP_FUZZ_SEED scale and replay it.
import { randomBytes } from "node:crypto";
import { serializeText, TargetOpcode } from "@livesnap/iscsi";
import { afterAll, beforeAll, expect, it } from "vitest";
import { RawInitiator, read10, TEST_UNIT_READY, write10 } from "../helpers/raw-initiator.js";
import { startTestTarget, TEST_IQN, type TestTarget } from "../helpers/target.js";

const ITERATIONS = Number(process.env.LIVESNAP_FUZZ_ITERATIONS ?? 150);
const SEED = Number(process.env.LIVESNAP_FUZZ_SEED ?? 0x5eed1234);

/** mulberry32: small, seedable, good enough to pick mutations reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget({ sizeBytes: 4 * 1024 * 1024, keepalive: { intervalMs: 0 } });
});
afterAll(async () => {
  await t.close();
});

const OPCODES = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10, 0x1c, 0x3f];
const KEYS = [
  "InitiatorName",
  "TargetName",
  "SessionType",
  "AuthMethod",
  "CHAP_A",
  "CHAP_N",
  "CHAP_R",
  "HeaderDigest",
  "DataDigest",
  "MaxRecvDataSegmentLength",
  "MaxBurstLength",
  "FirstBurstLength",
  "InitialR2T",
  "ImmediateData",
  "MaxOutstandingR2T",
  "ErrorRecoveryLevel",
  "X-junk",
  "",
];

function mutatedBhs(rand: () => number, cmdSN: number): Buffer {
  const bhs = randomBytesFrom(rand, 48);
  bhs[0] = (OPCODES[Math.floor(rand() * OPCODES.length)] as number) | (rand() < 0.5 ? 0x40 : 0);
  // Mostly plausible lengths, sometimes hostile ones.
  bhs[4] = rand() < 0.8 ? 0 : Math.floor(rand() * 256);
  const dsl = rand() < 0.7 ? Math.floor(rand() * 600) : Math.floor(rand() * 0xffffff);
  bhs.writeUIntBE(dsl, 5, 3);
  if (rand() < 0.7) bhs.writeUInt32BE(cmdSN, 24);
  if (rand() < 0.5) bhs.fill(0, 8, 16); // LUN 0
  return bhs;
}

function randomBytesFrom(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

async function fuzzOne(rand: () => number, port: number): Promise<void> {
  const ini = await RawInitiator.connect(port);
  try {
    const mode = rand();
    if (mode < 0.35) {
      // Login phase: random keys, flags, stages, continuation bits, lengths.
      for (let round = 0; round < 1 + Math.floor(rand() * 4); round++) {
        const pairs: [string, string][] = [];
        for (let k = 0; k < Math.floor(rand() * 6); k++) {
          const key = KEYS[Math.floor(rand() * KEYS.length)] as string;
          const value =
            rand() < 0.5 ? TEST_IQN : randomBytesFrom(rand, Math.floor(rand() * 40)).toString("latin1");
          pairs.push([key, value]);
        }
        const bhs = randomBytesFrom(rand, 48);
        bhs[0] = 0x43;
        bhs[4] = 0;
        const data = rand() < 0.8 ? serializeText(pairs) : randomBytesFrom(rand, Math.floor(rand() * 300));
        ini.send({ bhs, ahs: Buffer.alloc(0), data });
        await ini.next(20);
      }
    } else {
      await ini.login({ targetName: TEST_IQN, keys: rand() < 0.3 ? { HeaderDigest: "CRC32C" } : {} });
      for (let i = 0; i < 1 + Math.floor(rand() * 8); i++) {
        const bhs = mutatedBhs(rand, ini.cmdSN);
        const dsl = bhs.readUIntBE(5, 3);
        const ahsLen = (bhs[4] as number) * 4;
        const body = randomBytesFrom(rand, Math.min(ahsLen + dsl + 8, 4096));
        const wire = Buffer.concat([bhs, body]);
        // Sometimes truncated mid-PDU, sometimes split in two writes.
        const cut = rand() < 0.2 ? Math.floor(rand() * wire.length) : wire.length;
        ini.sendRaw(wire.subarray(0, cut));
        await ini.next(10);
        if (ini.closed) break;
      }
    }
  } finally {
    ini.close();
  }
}

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
  for (let i = 0; i < ITERATIONS; i++) await fuzzOne(rand, t.port);
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
