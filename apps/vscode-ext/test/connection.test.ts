// Connection against the REAL livesnap daemon on ephemeral loopback ports: hello, subscribe, load,
// state kept current by pushed events, a refused token, and reconnection after the daemon restarts.
// The daemon is apps/iscsi-target's bundle: a devDependency, so turbo builds it before this test;
// run alone, the test builds it when it is missing or older than its sources.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Connection } from "../src/connection/connection.js";
import type { ConnectionStatus } from "../src/connection/target-state.js";

const targetDir = resolve(import.meta.dirname, "../../iscsi-target");
const bundle = join(targetDir, "dist/livesnap.mjs");
const dataDir = mkdtempSync(join(tmpdir(), "livesnap-vscode-conn-"));
let daemon: ChildProcess | undefined;
let apiUrl = "";
let token = "";

function newestSource(dir: string): number {
  const r = spawnSync(
    "find",
    [dir, "-name", "*.ts", "-path", "*/src/*", "-newer", bundle, "-print", "-quit"],
    {
      encoding: "utf8",
    },
  );
  return r.stdout.trim() ? Date.now() : 0;
}

function ensureBundle(): void {
  const stale =
    !existsSync(bundle) ||
    newestSource(targetDir) > 0 ||
    newestSource(resolve(targetDir, "../../packages")) > 0;
  if (!stale) return;
  const r = spawnSync(process.execPath, ["build.mjs"], { cwd: targetDir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the target failed: ${r.stderr}`);
  expect(statSync(bundle).size).toBeGreaterThan(0);
}

async function startDaemon(api = "127.0.0.1:0"): Promise<void> {
  const config = join(dataDir, "config.json");
  writeFileSync(
    config,
    JSON.stringify({ targets: [{ iqn: "iqn.2026-11.dev.livesnap:conn-test", autoVolumes: true }] }),
  );
  const child = spawn(
    process.execPath,
    [
      bundle,
      "serve",
      "--data-dir",
      dataDir,
      "--config",
      config,
      "--api",
      api,
      "--portal",
      "127.0.0.1:0",
      "--json",
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  daemon = child;
  const ready = await new Promise<{ apiUrl: string }>((res, rej) => {
    let out = "";
    const timer = setTimeout(() => rej(new Error("daemon not ready in 20 s")), 20_000);
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.includes('"ready"'));
      if (line) {
        clearTimeout(timer);
        res(JSON.parse(line) as { apiUrl: string });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`daemon exited with ${code}`));
    });
  });
  apiUrl = ready.apiUrl;
  token = readFileSync(join(dataDir, "api-token"), "utf8").trim();
}

async function stopDaemon(): Promise<void> {
  const child = daemon;
  daemon = undefined;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill("SIGKILL");
}

const quietLog = { info() {}, warn() {}, error() {}, debug() {} };

function waitFor<T>(what: string, fn: () => T | undefined | false, ms = 15_000): Promise<T> {
  return new Promise((res, rej) => {
    const end = Date.now() + ms;
    const tick = () => {
      const v = fn();
      if (v) return res(v);
      if (Date.now() > end) return rej(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 50);
    };
    tick();
  });
}

beforeAll(async () => {
  ensureBundle();
  await startDaemon();
}, 60_000);

afterAll(async () => {
  await stopDaemon();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("Connection against the real daemon", () => {
  it("connects, loads the state, and follows events for volumes and snapshots", async () => {
    const c = new Connection({
      config: { name: "t", url: apiUrl.replace(/^http/, "ws") },
      getToken: async () => token,
      log: quietLog,
      reconnect: false,
    });
    try {
      await c.connect();
      expect(c.status).toEqual({ kind: "connected" });
      expect(c.state.serverVersion).not.toBe("");
      await c.call("volume.create", { name: "cv0", sizeBytes: 16 * 2 ** 20, chunkSize: 65536 });
      await waitFor("volume.created applied", () => c.state.volumes.some((v) => v.name === "cv0"));
      await c.call("snapshot.create", { volume: "cv0", name: "cs1" });
      await waitFor("snapshot.created applied", () =>
        c.state.snapshots.get("cv0")?.some((s) => s.name === "cs1"),
      );
      expect(c.state.volumes.find((v) => v.name === "cv0")?.snapshotCount).toBe(1);
      await waitFor("LUN for cv0", () =>
        c.state.iscsiTargets.some((t) =>
          t.luns.some((l) => l.source.kind === "volume" && l.source.volume === "cv0"),
        ),
      );
      await c.call("snapshot.delete", { volume: "cv0", snapshot: "cs1" });
      await waitFor("snapshot.deleted applied", () => c.state.snapshots.get("cv0")?.length === 0);
      // A bad argument comes back as a typed error naming the field, and the session stays usable.
      await expect(c.call("volume.create", { name: "bad name", sizeBytes: 1 })).rejects.toThrow(
        /params\.name/,
      );
      expect(c.connected).toBe(true);
    } finally {
      await c.disconnect();
    }
    expect(c.status).toEqual({ kind: "disconnected" });
  }, 30_000);

  it("a wrong token is an error without a retry loop; no token at all asks for one", async () => {
    const wrong = new Connection({
      config: { name: "w", url: apiUrl },
      getToken: async () => "not-the-token",
      log: quietLog,
      reconnect: true,
    });
    await wrong.connect();
    expect(wrong.status.kind).toBe("error");
    expect(wrong.status.kind === "error" && wrong.status.message).toMatch(/unauthori|token|401/i);
    expect(wrong.status.kind === "error" && wrong.status.retryAt).toBeUndefined();
    await wrong.disconnect();

    const none = new Connection({
      config: { name: "n", url: apiUrl },
      getToken: async () => undefined,
      log: quietLog,
      reconnect: true,
    });
    await none.connect();
    expect(none.status).toEqual({ kind: "no-token" });
  }, 20_000);

  it("reports a lost connection and reconnects by itself when the daemon is back", async () => {
    const port = new URL(apiUrl).port;
    const seen: ConnectionStatus["kind"][] = [];
    const c = new Connection({
      config: { name: "r", url: `ws://127.0.0.1:${port}` },
      getToken: async () => token,
      log: quietLog,
      reconnect: true,
    });
    c.onStatus((s) => seen.push(s.kind));
    try {
      await c.connect();
      expect(c.connected).toBe(true);
      await stopDaemon();
      await waitFor(
        "error status with a retry",
        () => c.status.kind === "error" && c.status.retryAt !== undefined,
      );
      await startDaemon(`127.0.0.1:${port}`);
      await waitFor("reconnected", () => c.connected, 20_000);
      // The state is reloaded after the reconnect: the volume made earlier is still there (persistent pool).
      expect(c.state.volumes.some((v) => v.name === "cv0")).toBe(true);
      expect(seen).toContain("error");
      expect(seen[seen.length - 1]).toBe("connected");
    } finally {
      await c.disconnect();
    }
  }, 60_000);
});
