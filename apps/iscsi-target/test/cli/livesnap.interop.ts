// End to end: the bundled livesnap binary as daemon and CLI, a real initiator (qemu-io over iscsi://),
// free ports on loopback. Needs `pnpm build` first (test:interop depends on it) and qemu-io installed.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient, runsToChunks, wsTransport } from "@livesnap/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";

const BIN = fileURLToPath(new URL("../../dist/livesnap.mjs", import.meta.url));
const KiB = 1024;
const MiB = 1024 * KiB;

let dir: string;
let daemon: ChildProcess;
let daemonLog = "";
let ready: { apiUrl: string; portals: { host: string; port: number }[]; tokenFile: string };

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function livesnap(...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, LIVESNAP_DATA_DIR: dir, NO_COLOR: "1" }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await livesnap(...args);
  expect(r.code, `livesnap ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

async function json<T>(...args: string[]): Promise<T> {
  return JSON.parse(await ok(...args, "--json")) as T;
}

function qemuIo(command: string, url: string, readOnly = false): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      "qemu-io",
      ["-f", "raw", ...(readOnly ? ["-r"] : []), "-c", command, url],
      { timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run the build first`);
  dir = await mkdtemp(join(tmpdir(), "livesnap-cli-e2e-"));
  daemon = spawn(
    process.execPath,
    [BIN, "serve", "--data-dir", dir, "--portal", "127.0.0.1:0", "--api", "127.0.0.1:0", "--json"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  daemon.stderr!.on("data", (d) => {
    daemonLog += String(d);
  });
  ready = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`daemon not ready in 20 s:\n${daemonLog}`)), 20_000);
    daemon.stdout!.on("data", (d) => {
      out += String(d);
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line));
      }
    });
    daemon.on("exit", (code) => reject(new Error(`daemon exited with ${code}:\n${daemonLog}`)));
  });
}, 30_000);

afterAll(async () => {
  if (daemon && daemon.exitCode === null) {
    daemon.kill("SIGKILL");
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("livesnap end to end", () => {
  it("serves a volume that qemu-io writes through iscsi://, snapshots it live, maps, diffs and exports it", async () => {
    expect(ready.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ready.portals[0]!.port).toBeGreaterThan(0);

    const volume = await json<{ name: string; sizeBytes: number }>(
      "volume",
      "create",
      "vol1",
      "16M",
      "--chunk-size",
      "64K",
    );
    expect(volume).toMatchObject({ name: "vol1", sizeBytes: 16 * MiB });
    expect(await ok("volume", "list")).toMatch(/^vol1\s+16 MiB/m);

    const targets =
      await json<{ luns: { source: { kind: string; volume: string }; url: string }[] }[]>("targets");
    const lun = targets
      .flatMap((t) => t.luns)
      .find((l) => l.source.kind === "volume" && l.source.volume === "vol1");
    expect(lun, JSON.stringify(targets)).toBeDefined();
    const url = lun!.url;

    const first = await qemuIo("write -P 0xab 0 1M", url);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/wrote 1048576\/1048576 bytes/);

    await json("snapshot", "create", "vol1", "s1");
    const second = await qemuIo("write -P 0xcd 512k 1M", url);
    expect(second.code, second.stderr).toBe(0);
    await json("snapshot", "create", "vol1", "s2");
    const snapshots = await json<{ name: string; preservedBytes: number }[]>("snapshot", "list", "vol1");
    expect(snapshots.map((s) => s.name)).toEqual(["s1", "s2"]);
    expect(snapshots[0]!.preservedBytes).toBe(512 * KiB); // the overwritten half of the first MiB

    // Block map: 16 buckets of 1 MiB; bucket 0 holds s1's preserved chunks, bucket 1 the new data.
    const map = await json<{ classes: string[]; counts: number[][] }>("blockmap", "vol1", "--buckets", "16");
    const col = (name: string) => map.classes.indexOf(name);
    expect(map.counts).toHaveLength(16);
    expect(map.counts[0]![col("preserved:s1")]).toBe(8);
    expect(map.counts[1]![col("unallocated")]).toBe(8);
    expect(map.counts[15]![col("unallocated")]).toBe(16);
    const picture = await ok("blockmap", "vol1", "--buckets", "16", "--width", "16");
    const mark = /(\w) preserved in snapshot s1\b/.exec(picture)?.[1];
    expect(mark, picture).toBeDefined();
    // Bucket 0 holds s1's copies; bucket 1 was written after s1 (s1 keeps its zeros); the rest is empty.
    expect(picture).toMatch(new RegExp(`\\|${mark}\\S\\.{14}\\|`));

    const diff = await json<{ chunkSize: number; ranges: { offset: number; length: number }[] }>(
      "diff",
      "vol1",
      "s1",
      "s2",
    );
    expect(diff.chunkSize).toBe(64 * KiB);
    const changed = new Set<number>();
    for (const r of diff.ranges)
      for (let o = r.offset; o < r.offset + r.length; o += diff.chunkSize) changed.add(o);
    const expected = new Set<number>();
    for (let o = 512 * KiB; o < 1536 * KiB; o += 64 * KiB) expected.add(o);
    expect(changed).toEqual(expected);

    const file = join(dir, "s1.raw");
    await ok("export", "vol1", "s1", file);
    const image = await readFile(file);
    expect(image.length).toBe(16 * MiB);
    expect(image.subarray(0, MiB).every((b) => b === 0xab)).toBe(true);
    expect(image.subarray(MiB).every((b) => b === 0)).toBe(true);
    const again = await livesnap("export", "vol1", "s1", file);
    expect(again.code).toBe(2); // refuses to overwrite without --force
    expect(again.stderr).toMatch(/exists; pass --force/);

    // The snapshot as a read-only LUN: a real initiator reads s1's bytes, then it is withdrawn.
    const exposed = await json<{ url: string; readOnly: boolean }>("snapshot", "expose", "vol1", "s1");
    expect(exposed.readOnly).toBe(true);
    const read = await qemuIo("read -P 0xab 0 1M", exposed.url, true);
    expect(read.code, read.stderr).toBe(0);
    expect(`${read.stdout}${read.stderr}`).not.toMatch(/failed|error/i);
    expect(read.stdout).toMatch(/read 1048576\/1048576 bytes/);
    const zeros = await qemuIo("read -P 0 1M 1M", exposed.url, true);
    expect(`${zeros.stdout}${zeros.stderr}`).not.toMatch(/failed|error/i);
    await ok("snapshot", "withdraw", "vol1", "s1");
    const afterWithdraw = await qemuIo("read 0 4k", exposed.url, true);
    expect(afterWithdraw.code !== 0 || /error|fail/i.test(afterWithdraw.stderr + afterWithdraw.stdout)).toBe(
      true,
    );

    const stats = await json<{ volume: string; stats: { writes: number; bytesWritten: number } }[]>(
      "stats",
      "vol1",
    );
    expect(stats[0]!.stats.bytesWritten).toBe(2 * MiB);
    await ok("sessions");
  });

  it("pushes session and block-map events while a real initiator writes", async () => {
    const token = (await readFile(ready.tokenFile, "utf8")).trim();
    const events = createClient(
      await wsTransport({ url: ready.apiUrl, token, connect: (u) => new WebSocket(u) }),
    );
    const seen: string[] = [];
    const written = new Set<number>();
    let chunkSize = 0;
    events.on("session.login", (s) => seen.push(`login ${s.initiator}`));
    events.on("session.logout", (s) => seen.push(`logout ${s.initiator}`));
    events.on("blockmap.delta", (d) => {
      chunkSize = d.chunkSize;
      for (const c of runsToChunks(d.runs)) written.add(c);
    });
    await events.call("events.subscribe", {
      events: ["session.login", "session.logout", "blockmap.delta"],
      volumes: ["vol1"],
    });
    const targets =
      await json<{ luns: { source: { kind: string; volume: string }; url: string }[] }[]>("targets");
    const url = targets
      .flatMap((t) => t.luns)
      .find((l) => l.source.kind === "volume" && l.source.volume === "vol1")!.url;
    const w = await qemuIo("write -P 0x5a 8M 256k", url);
    expect(w.code, w.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 500)); // the last coalesced delta and the logout
    expect(chunkSize).toBe(64 * KiB);
    expect([...written].sort((a, b) => a - b)).toEqual([128, 129, 130, 131]);
    expect(seen.filter((e) => e.startsWith("login"))).toHaveLength(1);
    expect(seen.filter((e) => e.startsWith("logout"))).toHaveLength(1);
    await events.close();
  });

  it("refuses a wrong token and reports unknown objects with distinct exit codes", async () => {
    const unauthorized = await livesnap("volume", "list", "--token", "wrong");
    expect(unauthorized.code).toBe(4);
    expect(unauthorized.stderr).toMatch(/unauthorized/);
    const missing = await livesnap("snapshot", "list", "nope");
    expect(missing.code).toBe(5);
    expect(missing.stderr).toMatch(/nope/);
  });

  it("stops cleanly on SIGTERM", async () => {
    const exited = new Promise<number | null>((resolve) => daemon.on("exit", (code) => resolve(code)));
    daemon.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(existsSync(join(dir, "api-url"))).toBe(false);
  });
});
