// The built daemon against real initiators: libiscsi tools, qemu-img over iscsi://, a live
// snapshot taken while qemu writes, CHAP.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../helpers/tools.js";
import { type DaemonProcess, spawnDaemon } from "./daemon-process.js";

const IQN = "iqn.2026-11.io.livesnap:interop";
const MiB = 1024 * 1024;
let daemon: DaemonProcess;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "livesnap-interop-files-"));
  daemon = await spawnDaemon({
    targets: [{ iqn: IQN, autoVolumes: true }],
    defaultVolume: { name: "vol0", sizeBytes: 64 * MiB },
  });
});

afterAll(async () => {
  const code = await daemon?.stop();
  rmSync(work, { recursive: true, force: true });
  // SIGTERM is a clean stop: exit 0.
  expect(code).toBe(0);
});

describe("libiscsi tools against the daemon", () => {
  it("iscsi-ls lists the target, its portal and LUN 0", async () => {
    const r = await run("iscsi-ls", ["-s", `iscsi://127.0.0.1:${daemon.port}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Target:${IQN} Portal:127.0.0.1:${daemon.port},1`);
    expect(r.stdout).toMatch(/Lun:0\s+Type:DIRECT_ACCESS/);
  });

  it("iscsi-inq: standard data and the device identification page", async () => {
    const std = await run("iscsi-inq", [daemon.url(IQN, 0)]);
    expect(std.code).toBe(0);
    expect(std.stdout).toContain("Peripheral Device Type:DIRECT_ACCESS");
    // iscsi-inq takes the page code in decimal: 131 = 0x83.
    const vpd83 = await run("iscsi-inq", ["-e", "1", "-c", "131", daemon.url(IQN, 0)]);
    expect(vpd83.code).toBe(0);
    expect(vpd83.stdout).toContain("Designator Type:(3) NAA");
    expect(vpd83.stdout).toContain(`Designator:[${IQN},t,0x0001]`);
  });

  it("iscsi-readcapacity16: 64 MiB of 512-byte blocks", async () => {
    const r = await run("iscsi-readcapacity16", [daemon.url(IQN, 0)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`RETURNED LOGICAL BLOCK ADDRESS:${(64 * MiB) / 512 - 1}`);
    expect(r.stdout).toContain(`Total size:${64 * MiB}`);
  });
});

describe("qemu-img over iscsi://", () => {
  it("round trip: convert a random image in, compare it back", async () => {
    const image = join(work, "a.raw");
    writeFileSync(image, randomBytes(64 * MiB));
    const conv = await run(
      "qemu-img",
      ["convert", "-n", "-f", "raw", "-O", "raw", image, daemon.url(IQN, 0)],
      300_000,
    );
    expect(conv.stderr).toBe("");
    expect(conv.code).toBe(0);
    const cmp = await run(
      "qemu-img",
      ["compare", "-f", "raw", "-F", "raw", image, daemon.url(IQN, 0)],
      300_000,
    );
    expect(cmp.stdout).toContain("Images are identical");
  });

  it("qemu-io's discard (UNMAP) gives the volume's blocks back to the file system", async () => {
    expect(daemon.logs()).toMatch(/"holePunching":true/);
    await daemon.rpc("volume.create", { name: "trim", sizeBytes: 16 * MiB });
    const targets = await daemon.rpc<{ targets: { luns: { lun: number; source: { volume: string } }[] }[] }>(
      "target.list",
      {},
    );
    const lun = targets.targets[0]?.luns.find((l) => l.source.volume === "trim")?.lun ?? -1;
    const url = daemon.url(IQN, lun);
    const origin = (): number => {
      const name = readdirSync(daemon.dataDir, { recursive: true })
        .map(String)
        .filter((f) => f.endsWith(".img"))
        .map((f) => join(daemon.dataDir, f))
        .find((f) => statSync(f).size === 16 * MiB);
      if (!name) throw new Error("no 16 MiB origin image in the data dir");
      return statSync(name).blocks * 512;
    };
    const written = await run("qemu-io", ["-f", "raw", "-c", "write -P 0x5a 0 12M", "-c", "flush", url]);
    expect(written.code).toBe(0);
    const full = origin();
    expect(full).toBeGreaterThanOrEqual(12 * MiB);
    const trimmed = await run("qemu-io", ["-f", "raw", "-c", "discard 0 8M", "-c", "flush", url]);
    expect(trimmed.code).toBe(0);
    expect(full - origin()).toBeGreaterThanOrEqual(8 * MiB - 256 * 1024);
    const check = await run("qemu-io", [
      "-f",
      "raw",
      "-c",
      "read -P 0 0 8M",
      "-c",
      "read -P 0x5a 8M 4M",
      url,
    ]);
    expect(check.stdout).not.toContain("Pattern verification failed");
    expect(check.code).toBe(0);
  });

  it("a live snapshot taken mid-write is a stable mix of old and new blocks, exposed as a read-only LUN", async () => {
    const before = join(work, "a.raw"); // what the previous test wrote
    const after = join(work, "b.raw");
    writeFileSync(after, randomBytes(64 * MiB));
    type Stats = { volumes: { volume: string; stats: { bytesWritten: number } }[] };
    const written = async () =>
      (await daemon.rpc<Stats>("stats.get", { volume: "vol0" })).volumes[0]?.stats.bytesWritten ?? 0;
    const written0 = await written();
    // Rate-limited (64 MiB at 32 MiB/s) so the snapshot surely lands mid-write, however fast the
    // target is; it is taken once the target has taken 4 MiB of the new data.
    const writing = run(
      "qemu-img",
      ["convert", "-n", "-r", "32M", "-f", "raw", "-O", "raw", after, daemon.url(IQN, 0)],
      300_000,
    );
    const waitStart = Date.now();
    while ((await written()) - written0 < 4 * MiB) {
      if (Date.now() - waitStart > 60_000) throw new Error("qemu-img wrote nothing within 60 s");
      await new Promise((r) => setTimeout(r, 20));
    }
    await daemon.rpc("snapshot.create", { volume: "vol0", name: "mid" });
    const exposed = await daemon.rpc<{ lun: { lun: number; readOnly: boolean } }>("snapshot.expose", {
      volume: "vol0",
      snapshot: "mid",
    });
    expect(exposed.lun.readOnly).toBe(true);
    const w = await writing;
    expect(w.code).toBe(0);

    // Live volume: all new data.
    const live = await run(
      "qemu-img",
      ["compare", "-f", "raw", "-F", "raw", after, daemon.url(IQN, 0)],
      300_000,
    );
    expect(live.stdout).toContain("Images are identical");

    // Snapshot: every 4 KiB block is the old or the new one, and reading it twice gives the same bytes.
    const snapA = join(work, "snap1.raw");
    const snapB = join(work, "snap2.raw");
    for (const out of [snapA, snapB]) {
      const r = await run(
        "qemu-img",
        ["convert", "-f", "raw", "-O", "raw", daemon.url(IQN, exposed.lun.lun), out],
        300_000,
      );
      expect(r.code).toBe(0);
    }
    const s1 = readFileSync(snapA);
    expect(s1.equals(readFileSync(snapB))).toBe(true);
    const oldBytes = readFileSync(before);
    const newBytes = readFileSync(after);
    let fromOld = 0;
    let fromNew = 0;
    for (let off = 0; off < s1.length; off += 4096) {
      const block = s1.subarray(off, off + 4096);
      if (block.equals(oldBytes.subarray(off, off + 4096))) fromOld++;
      else if (block.equals(newBytes.subarray(off, off + 4096))) fromNew++;
      else throw new Error(`snapshot block at ${off} is neither the old nor the new data`);
    }
    expect(fromOld + fromNew).toBe(s1.length / 4096);
    expect(fromOld).toBeGreaterThan(0); // taken before the write finished
    expect(fromNew).toBeGreaterThan(0); // and after it started

    // Read-only: a write to the snapshot LUN is refused.
    const ro = await run(
      "qemu-img",
      ["convert", "-n", "-f", "raw", "-O", "raw", after, daemon.url(IQN, exposed.lun.lun)],
      60_000,
    );
    expect(ro.code).not.toBe(0);
  });
});

describe("CHAP", () => {
  const CHAP_IQN = "iqn.2026-11.io.livesnap:chap";
  let chapDaemon: DaemonProcess;
  beforeAll(async () => {
    chapDaemon = await spawnDaemon({
      targets: [
        { iqn: CHAP_IQN, autoVolumes: true, chap: { username: "alice", secret: "alice-secret-123" } },
      ],
      defaultVolume: { name: "v", sizeBytes: 8 * MiB },
    });
  });
  afterAll(async () => {
    await chapDaemon?.stop();
  });

  it("logs in with the right secret", async () => {
    const r = await run("iscsi-inq", [chapDaemon.url(CHAP_IQN, 0, "alice%alice-secret-123")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("DIRECT_ACCESS");
  });

  it("refuses a wrong secret and no credentials", async () => {
    const wrong = await run("iscsi-inq", [chapDaemon.url(CHAP_IQN, 0, "alice%not-the-secret")]);
    expect(wrong.code).not.toBe(0);
    const none = await run("iscsi-inq", [chapDaemon.url(CHAP_IQN, 0)]);
    expect(none.code).not.toBe(0);
    expect(chapDaemon.logs()).toContain("login failed");
  });
});
