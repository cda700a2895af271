// Seeded PDU and login mutations for the fuzz tests (in-process target and built daemon).
import { serializeText } from "@livesnap/iscsi";
import { RawInitiator } from "./raw-initiator.js";

/** mulberry32: small, seedable, good enough to pick mutations reproducibly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
  // Resets that legitimately end or abort every session's tasks (clear task set, LUN reset,
  // warm/cold reset) would take the parallel clean session down by design; keep them out.
  if (((bhs[0] as number) & 0x3f) === 0x02 && [4, 5, 6, 7].includes((bhs[1] as number) & 0x7f)) {
    bhs[1] = ((bhs[1] as number) & 0x80) | 1;
  }
  return bhs;
}

function randomBytesFrom(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

export async function fuzzOne(rand: () => number, port: number, targetName: string): Promise<void> {
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
            rand() < 0.5 ? targetName : randomBytesFrom(rand, Math.floor(rand() * 40)).toString("latin1");
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
      await ini.login({ targetName: targetName, keys: rand() < 0.3 ? { HeaderDigest: "CRC32C" } : {} });
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
