// The seeded fuzz against the built daemon process: hostile connections while qemu-img keeps a
// verified round trip going on another session. The daemon must stay up and stop cleanly.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { fuzzOne, prng } from "../helpers/fuzz.js";
import { run } from "../helpers/tools.js";
import { type DaemonProcess, spawnDaemon } from "./daemon-process.js";

const IQN = "iqn.2026-11.io.livesnap:fuzz";
const ITERATIONS = Number(process.env.LIVESNAP_FUZZ_ITERATIONS ?? 300);
const SEED = Number(process.env.LIVESNAP_FUZZ_SEED ?? 20261125);
let daemon: DaemonProcess;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "livesnap-fuzz-"));
  daemon = await spawnDaemon({
    targets: [{ iqn: IQN, autoVolumes: true }],
    defaultVolume: { name: "v", sizeBytes: 32 * 1024 * 1024 },
  });
});
afterAll(async () => {
  const code = await daemon?.stop();
  rmSync(work, { recursive: true, force: true });
  expect(code).toBe(0);
});

it(`daemon survives ${ITERATIONS} fuzzed connections (seed ${SEED}) with a clean qemu-img session alongside`, async () => {
  const image = join(work, "img.raw");
  writeFileSync(image, randomBytes(32 * 1024 * 1024));
  const url = daemon.url(IQN, 0);
  let stop = false;
  let rounds = 0;
  const clean = (async () => {
    while (!stop) {
      const w = await run("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", image, url], 120_000);
      expect(w.code, w.stderr).toBe(0);
      const c = await run("qemu-img", ["compare", "-f", "raw", "-F", "raw", image, url], 120_000);
      expect(c.stdout, c.stderr).toContain("Images are identical");
      rounds++;
    }
  })();
  const rand = prng(SEED);
  for (let i = 0; i < ITERATIONS; i++) await fuzzOne(rand, daemon.port, IQN);
  stop = true;
  await clean;
  expect(rounds).toBeGreaterThan(0);
  const inq = await run("iscsi-inq", [url]);
  expect(inq.code).toBe(0);
  expect(daemon.logs()).not.toContain('"level":60'); // no fatal
});
