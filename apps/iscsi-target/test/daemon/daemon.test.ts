// The whole daemon in-process: engine pool on real files, iSCSI portal, management API.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/load.js";
import { type Daemon, startDaemon } from "../../src/daemon.js";
import { requireTool, run } from "../helpers/tools.js";

const IQN = "iqn.2026-11.io.livesnap:daemon-test";
const dirs: string[] = [];
const daemons: Daemon[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "livesnap-daemon-"));
  dirs.push(d);
  return d;
}

function writeConfig(dir: string, extra: object = {}): string {
  const file = join(dir, "config.json");
  writeFileSync(
    file,
    JSON.stringify({
      targets: [{ iqn: IQN, autoVolumes: true }],
      defaultVolume: { name: "vol0", sizeBytes: 32 * 1024 * 1024 },
      ...extra,
    }),
  );
  return file;
}

async function start(dataDir: string, configFile: string): Promise<Daemon> {
  const d = await startDaemon({
    dataDir,
    configFile,
    portals: [{ host: "127.0.0.1", port: 0 }],
    apiListen: { host: "127.0.0.1", port: 0 },
    logger: pino({ level: "silent" }),
  });
  daemons.push(d);
  return d;
}

async function rpc<T = unknown>(d: Daemon, method: string, params: object): Promise<T> {
  const res = await fetch(`${d.apiUrl}/v1/rpc`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${d.apiToken}` },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

afterEach(async () => {
  for (const d of daemons.splice(0)) await d.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("daemon", () => {
  it("creates the default volume, serves it, and keeps data across a restart", async () => {
    const dir = tempDir();
    const cfg = writeConfig(dir);
    const data = join(dir, "data");
    let d = await start(data, cfg);
    const port = d.portals[0]?.port;
    const ls = await run("iscsi-ls", ["-s", `iscsi://127.0.0.1:${port}`]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toContain(`Target:${IQN}`);
    // iscsi-ls prints (last LBA × block size) in MiB, rounded down: 31M for 32 MiB.
    expect(ls.stdout).toMatch(/Lun:0\s+Type:DIRECT_ACCESS \(Size:31M\)/);

    const image = join(dir, "img.raw");
    writeFileSync(image, randomBytes(4 * 1024 * 1024));
    const url = `iscsi://127.0.0.1:${port}/${IQN}/0`;
    const conv = await run("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", image, url], 120_000);
    expect(conv.stderr).toBe("");
    expect(conv.code).toBe(0);

    await d.stop();
    daemons.length = 0;
    d = await start(data, cfg);
    const url2 = `iscsi://127.0.0.1:${d.portals[0]?.port}/${IQN}/0`;
    const back = join(dir, "back.raw");
    const read = await run("qemu-img", ["convert", "-f", "raw", "-O", "raw", url2, back], 120_000);
    expect(read.code).toBe(0);
    expect(
      readFileSync(back)
        .subarray(0, 4 * 1024 * 1024)
        .equals(readFileSync(image)),
    ).toBe(true);
  });

  it("times every SCSI command into the command latency histogram", async () => {
    const dir = tempDir();
    const d = await start(join(dir, "data"), writeConfig(dir));
    const url = `iscsi://127.0.0.1:${d.portals[0]?.port}/${IQN}/0`;
    const io = await run("qemu-io", [
      "-f",
      "raw",
      "-c",
      "write -P 0x5a 0 64k",
      "-c",
      "read -P 0x5a 0 64k",
      url,
    ]);
    expect(io.code).toBe(0);
    const res = await fetch(`${d.apiUrl}/metrics`, { headers: { authorization: `Bearer ${d.apiToken}` } });
    const text = await res.text();
    const count = (kind: string) =>
      Number(
        new RegExp(
          `livesnap_scsi_command_duration_seconds_count\\{[^}]*volume="vol0"[^}]*kind="${kind}"[^}]*\\} (\\d+)`,
        ).exec(text)?.[1] ?? 0,
      );
    expect(count("write")).toBeGreaterThan(0);
    expect(count("read")).toBeGreaterThan(0);
    // INQUIRY, READ CAPACITY, TEST UNIT READY during qemu's open.
    expect(count("other")).toBeGreaterThan(0);
  });

  it("keeps an exposed snapshot LUN across a restart, and drops it with its snapshot", async () => {
    const dir = tempDir();
    const cfg = writeConfig(dir);
    const data = join(dir, "data");
    let d = await start(data, cfg);
    await rpc(d, "snapshot.create", { volume: "vol0", name: "s1" });
    const exposed = await rpc<{ lun: { lun: number; readOnly: boolean } }>(d, "snapshot.expose", {
      volume: "vol0",
      snapshot: "s1",
    });
    expect(exposed.lun).toMatchObject({ lun: 1, readOnly: true });
    await d.stop();
    daemons.length = 0;

    d = await start(data, cfg);
    const ls = await run("iscsi-ls", ["-s", `iscsi://127.0.0.1:${d.portals[0]?.port}`]);
    expect(ls.stdout).toMatch(/Lun:1\s+Type:DIRECT_ACCESS/);
    const listed = await rpc<{ targets: { luns: { lun: number; source: { kind: string } }[] }[] }>(
      d,
      "target.list",
      {},
    );
    expect(listed.targets[0]?.luns.map((l) => [l.lun, l.source.kind])).toEqual([
      [0, "volume"],
      [1, "snapshot"],
    ]);
    await rpc(d, "snapshot.delete", { volume: "vol0", snapshot: "s1" });
    const after = await rpc<{ targets: { luns: { lun: number }[] }[] }>(d, "target.list", {});
    expect(after.targets[0]?.luns.map((l) => l.lun)).toEqual([0]);
  });

  it("stops cleanly while an initiator is connected", async () => {
    const dir = tempDir();
    const d = await start(join(dir, "data"), writeConfig(dir));
    const port = d.portals[0]?.port ?? 0;
    // A load that outlasts the test, so the stop always lands mid-I/O. libiscsi reconnects for
    // as long as it lives once its target goes away, so the initiator is killed at the end: what
    // is asserted is the daemon's side (stop returns, the session is gone, the portal refuses).
    const initiator = spawn(requireTool("qemu-img"), [
      "bench",
      "-f",
      "raw",
      "-t",
      "none",
      "-c",
      "100000000",
      `iscsi://127.0.0.1:${port}/${IQN}/0`,
    ]);
    try {
      for (let i = 0; i < 500; i++) {
        const listed = await rpc<{ sessions: unknown[] }>(d, "session.list", {});
        if (listed.sessions.length > 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect((await rpc<{ sessions: unknown[] }>(d, "session.list", {})).sessions).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 200));
      expect(initiator.exitCode).toBeNull(); // still writing when the stop comes
      await d.stop();
      daemons.length = 0;
      const refused = await new Promise<boolean>((resolve) => {
        const s = connect(port, "127.0.0.1");
        s.once("connect", () => {
          s.destroy();
          resolve(false);
        });
        s.once("error", () => resolve(true));
      });
      expect(refused).toBe(true);
    } finally {
      initiator.kill("SIGKILL");
    }
  });
});

describe("config", () => {
  it("names the offending field", async () => {
    const dir = tempDir();
    const file = join(dir, "bad.json");
    writeFileSync(
      file,
      JSON.stringify({
        portals: [{ host: "0.0.0.0", port: 3260 }],
        targets: [{ iqn: "not-an-iqn", chap: { username: "u", secret: "short" } }],
      }),
    );
    await expect(loadConfig(file)).rejects.toThrow(ConfigError);
    const err = await loadConfig(file).catch((e: Error) => e.message);
    expect(err).toContain("targets[0].iqn: must be an iSCSI name");
    expect(err).toContain("targets[0].chap.secret: CHAP secrets must be at least 12 characters");
  });

  it("refuses a target without CHAP on a non-loopback portal", async () => {
    const dir = tempDir();
    const file = join(dir, "open.json");
    writeFileSync(
      file,
      JSON.stringify({ portals: [{ host: "0.0.0.0", port: 3260 }], targets: [{ iqn: IQN }] }),
    );
    const err = await loadConfig(file).catch((e: Error) => e.message);
    expect(err).toContain("targets[0].chap: required when a portal listens beyond loopback");
  });

  it("the embedded default serves one 1 GiB volume on loopback without auth", async () => {
    const cfg = await loadConfig(undefined);
    expect(cfg.portals).toEqual([{ host: "127.0.0.1", port: 3260 }]);
    expect(cfg.targets[0]?.iqn).toBe("iqn.2026-11.io.livesnap:default");
    expect(cfg.targets[0]?.chap).toBeUndefined();
    expect(cfg.defaultVolume?.sizeBytes).toBe(1024 * 1024 * 1024);
  });
});
