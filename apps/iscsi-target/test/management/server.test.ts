// The management server against a real engine pool in a temp dir, over real sockets: HTTP JSON-RPC,
// WebSocket with events, /metrics and the snapshot data stream. Only the iSCSI side is a double.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { PoolHandle } from "@livesnap/engine";
import {
  createClient,
  decodeBlockMap,
  type EventName,
  type EventPayload,
  httpTransport,
  PROTOCOL_VERSION,
  type RpcClient,
  RpcError,
  runsToChunks,
  snapshotDataPath,
  WS_CLOSE_UNAUTHORIZED,
  wsTransport,
} from "@livesnap/protocol";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { busyPollStats, ReceivePollPolicy } from "../../src/iscsi/receive-poll.js";
import { DELTA_INTERVAL_MS, RATES_INTERVAL_MS } from "../../src/management/event-hub.js";
import { startManagementServer } from "../../src/management/server.js";
import { type ManagementFixture, startManagementFixture } from "./fixture.js";

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

let fx: ManagementFixture;
let dir: string;
let pool: PoolHandle;
let control: ManagementFixture["control"];
let server: ManagementFixture["server"];
let client: RpcClient;

beforeEach(async () => {
  fx = await startManagementFixture({ prefix: "livesnap-mgmt-", chunkSize: CHUNK, version: "9.9.9-test" });
  ({ dir, pool, control, server } = fx);
  client = createClient(httpTransport({ url: server.url, token: server.token }));
});

afterEach(async () => {
  await fx.close();
});

async function write(volume: string, offset: number, data: Buffer): Promise<void> {
  const handle = pool.getVolume(volume);
  await handle.write(handle.admit(offset, data.length), data);
}

function rpc(body: unknown, token?: string): Promise<Response> {
  return fetch(`${server.url}/v1/rpc`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

async function connectWs(): Promise<RpcClient> {
  return createClient(
    await wsTransport({ url: server.url, token: server.token, connect: (url) => new WebSocket(url) }),
  );
}

/** Resolves with the close code of a raw socket. */
function closeCode(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.on("close", (code) => resolve(code)));
}

function waitFor<E extends EventName>(
  c: RpcClient,
  event: E,
  match: (p: EventPayload<E>) => boolean = () => true,
  timeoutMs = 5000,
): Promise<EventPayload<E>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} event within ${timeoutMs} ms`)), timeoutMs);
    const off = c.on(event, (p) => {
      if (!match(p)) return;
      clearTimeout(timer);
      off();
      resolve(p);
    });
  });
}

describe("authentication", () => {
  it("keeps the token in <dataDir>/api-token with mode 0600 and the URL in api-url", async () => {
    const path = join(dir, "api-token");
    expect((await readFile(path, "utf8")).trim()).toBe(server.token);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readFile(join(dir, "api-url"), "utf8")).trim()).toBe(server.url);
  });

  it("refuses HTTP calls without or with a wrong token (401)", async () => {
    const call = { jsonrpc: "2.0", id: 1, method: "volume.list", params: {} };
    for (const token of [undefined, "wrong", `${server.token}x`]) {
      const res = await rpc(call, token);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { data: { kind: string } } }).error.data.kind).toBe(
        "unauthorized",
      );
    }
    expect((await rpc(call, server.token)).status).toBe(200);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${server.url}${snapshotDataPath("v", "s")}`)).status).toBe(401);
    const typed = createClient(httpTransport({ url: server.url, token: "wrong" }));
    await expect(typed.call("volume.list", {})).rejects.toMatchObject({ kind: "unauthorized" });
  });

  it("refuses a WebSocket with a wrong Authorization header at the upgrade", async () => {
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/v1/ws`, {
      headers: { authorization: "Bearer wrong" },
    });
    const status = await new Promise<number | undefined>((resolve) => {
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode));
      ws.on("open", () => resolve(undefined));
      ws.on("error", () => {});
    });
    expect(status).toBe(401);
  });

  it("closes a WebSocket whose first call is not a valid auth", async () => {
    const wsUrl = `${server.url.replace("http", "ws")}/v1/ws`;
    const unauthenticated = new WebSocket(wsUrl);
    const code1 = closeCode(unauthenticated);
    const answers: string[] = [];
    unauthenticated.on("message", (d) => answers.push(String(d)));
    unauthenticated.on("open", () =>
      unauthenticated.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "volume.list", params: {} })),
    );
    expect(await code1).toBe(WS_CLOSE_UNAUTHORIZED);
    expect(JSON.parse(answers[0]!).error.data.kind).toBe("unauthorized");

    await expect(
      wsTransport({ url: server.url, token: "wrong", connect: (url) => new WebSocket(url) }),
    ).rejects.toBeInstanceOf(RpcError);
  });

  it("accepts a WebSocket authenticated by header or by an auth call", async () => {
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/v1/ws`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    const answer = await new Promise<string>((resolve) => {
      ws.on("open", () => ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "volume.list" })));
      ws.on("message", (d) => resolve(String(d)));
    });
    expect(JSON.parse(answer).result).toEqual({ volumes: [] });
    ws.close();
    const viaAuth = await connectWs();
    expect((await viaAuth.call("volume.list", {})).volumes).toEqual([]);
    await viaAuth.close();
  });
});

describe("methods on a real pool", () => {
  it("says hello and refuses another protocol version", async () => {
    const hello = await client.call("hello", { protocolVersion: PROTOCOL_VERSION, client: "test" });
    expect(hello).toMatchObject({ protocolVersion: PROTOCOL_VERSION, serverVersion: "9.9.9-test" });
    expect(hello.methods).toContain("snapshot.create");
    expect(hello.events).toContain("blockmap.delta");
    await expect(client.call("hello", { protocolVersion: PROTOCOL_VERSION + 1 })).rejects.toMatchObject({
      kind: "version-mismatch",
    });
  });

  it("answers malformed params and unknown methods with typed errors naming the field", async () => {
    const res = await rpc(
      { jsonrpc: "2.0", id: 1, method: "volume.create", params: { name: "v", sizeBytes: "big" } },
      server.token,
    );
    const body = (await res.json()) as { error: { code: number; data: { issues: { field: string }[] } } };
    expect(body.error.code).toBe(-32602);
    expect(body.error.data.issues.map((i) => i.field)).toEqual(["params.sizeBytes"]);
    const unknown = (await (
      await rpc({ jsonrpc: "2.0", id: 2, method: "volume.nuke" }, server.token)
    ).json()) as {
      error: { code: number };
    };
    expect(unknown.error.code).toBe(-32601);
  });

  it("creates, lists, resizes and deletes volumes, telling the iSCSI side", async () => {
    const { volume } = await client.call("volume.create", { name: "vol1", sizeBytes: 4 * MiB });
    expect(volume).toMatchObject({ name: "vol1", sizeBytes: 4 * MiB, chunkSize: CHUNK, snapshotCount: 0 });
    expect((await client.call("volume.list", {})).volumes.map((v) => v.name)).toEqual(["vol1"]);
    await expect(client.call("volume.create", { name: "vol1", sizeBytes: MiB })).rejects.toMatchObject({
      kind: "already-exists",
    });
    expect(
      (await client.call("volume.resize", { volume: "vol1", sizeBytes: 8 * MiB })).volume.sizeBytes,
    ).toBe(8 * MiB);
    await client.call("volume.delete", { volume: "vol1" });
    expect((await client.call("volume.list", {})).volumes).toEqual([]);
    await expect(client.call("volume.get", { volume: "vol1" })).rejects.toMatchObject({ kind: "not-found" });
    expect(control.calls).toEqual(["volumeChanged vol1", "volumeChanged vol1", "volumeChanged vol1"]);
  });

  it("snapshots live, maps, diffs, streams snapshot data and rolls back", async () => {
    await client.call("volume.create", { name: "vol1", sizeBytes: 4 * MiB });
    const before = Buffer.alloc(2 * CHUNK, 0xab);
    await write("vol1", 0, before);
    const { snapshot: s1 } = await client.call("snapshot.create", { volume: "vol1", name: "s1" });
    expect(s1).toMatchObject({ name: "s1", volume: "vol1", valid: true });
    await write("vol1", CHUNK, Buffer.alloc(CHUNK, 0xcd)); // overwrite chunk 1 only
    await client.call("snapshot.create", { volume: "vol1", name: "s2" });
    expect((await client.call("snapshot.list", { volume: "vol1" })).snapshots.map((s) => s.name)).toEqual([
      "s1",
      "s2",
    ]);

    const changed = await client.call("chunks.changed", { volume: "vol1", from: "s1", to: "s2" });
    expect(changed).toEqual({ chunkSize: CHUNK, ranges: [{ offset: CHUNK, length: CHUNK }] });

    const map = decodeBlockMap(await client.call("blockmap.get", { volume: "vol1", buckets: 4 }));
    expect(map.buckets).toBe(4);
    const column = (name: string) => map.classes.indexOf(name);
    expect(column("unallocated")).toBeGreaterThanOrEqual(0);
    let total = 0;
    for (const n of map.counts) total += n;
    expect(total).toBeGreaterThanOrEqual((4 * MiB) / CHUNK); // every chunk counted at least once
    const preservedS1 = column("preserved:s1");
    expect(preservedS1).toBeGreaterThanOrEqual(0);
    expect(map.counts[preservedS1]).toBe(1); // chunk 1 was copied into s1 before its overwrite

    const url = `${server.url}${snapshotDataPath("vol1", "s1")}`;
    const auth = { authorization: `Bearer ${server.token}` };
    const whole = Buffer.from(await (await fetch(url, { headers: auth })).arrayBuffer());
    expect(whole.length).toBe(4 * MiB);
    expect(whole.subarray(0, 2 * CHUNK).equals(before)).toBe(true);
    expect(whole.subarray(2 * CHUNK).every((b) => b === 0)).toBe(true);
    const part = await fetch(url, { headers: { ...auth, range: `bytes=${CHUNK - 2}-${CHUNK + 1}` } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes ${CHUNK - 2}-${CHUNK + 1}/${4 * MiB}`);
    expect([...Buffer.from(await part.arrayBuffer())]).toEqual([0xab, 0xab, 0xab, 0xab]);
    expect((await fetch(`${server.url}${snapshotDataPath("vol1", "nope")}`, { headers: auth })).status).toBe(
      404,
    );

    await client.call("snapshot.rollback", { volume: "vol1", snapshot: "s1" });
    expect((await pool.getVolume("vol1").read(0, 2 * CHUNK)).equals(before)).toBe(true);
  });

  it("exposes a snapshot through the iSCSI side and withdraws its LUN before deleting it", async () => {
    await client.call("volume.create", { name: "vol1", sizeBytes: MiB });
    await client.call("snapshot.create", { volume: "vol1", name: "s1" });
    await expect(client.call("snapshot.expose", { volume: "vol1", snapshot: "nope" })).rejects.toMatchObject({
      kind: "not-found",
    });
    const { lun } = await client.call("snapshot.expose", { volume: "vol1", snapshot: "s1" });
    expect(lun).toMatchObject({ lun: 1, readOnly: true, source: { kind: "snapshot", snapshot: "s1" } });
    expect((await client.call("target.list", {})).targets[0]!.luns).toHaveLength(2);
    await client.call("snapshot.delete", { volume: "vol1", snapshot: "s1" });
    expect(control.calls.slice(-2)).toEqual([`expose vol1@s1`, `withdraw ${lun.target}/1`]);
    expect((await client.call("snapshot.list", { volume: "vol1" })).snapshots).toEqual([]);
  });

  it("takes a group snapshot across volumes", async () => {
    await client.call("volume.create", { name: "a", sizeBytes: MiB });
    await client.call("volume.create", { name: "b", sizeBytes: MiB });
    const result = await client.call("group.snapshot", {
      entries: [
        { volume: "a", snapshot: "g" },
        { volume: "b", snapshot: "g" },
      ],
    });
    expect(result.snapshots.map((s) => `${s.volume}@${s.name}`)).toEqual(["a@g", "b@g"]);
    expect(new Set(result.snapshots.map((s) => s.seq)).size).toBe(1); // one admission point
    await expect(
      client.call("group.snapshot", {
        entries: [
          { volume: "a", snapshot: "h" },
          { volume: "zz", snapshot: "h" },
        ],
      }),
    ).rejects.toMatchObject({ kind: "not-found" });
  });

  it("reports stats and Prometheus metrics from the engine", async () => {
    await client.call("volume.create", { name: "vol1", sizeBytes: MiB });
    await write("vol1", 0, Buffer.alloc(CHUNK, 1));
    await client.call("snapshot.create", { volume: "vol1", name: "s1" });
    await write("vol1", 0, Buffer.alloc(CHUNK, 2));
    const { volumes } = await client.call("stats.get", { volume: "vol1" });
    expect(volumes[0]!.stats).toMatchObject({ writes: 2, bytesWritten: 2 * CHUNK, cowCopies: 1 });
    control.login({
      id: 1,
      target: "iqn.2026-11.io.livesnap:vol1",
      initiator: "iqn.test:init",
      isid: "400001370000",
      remoteAddress: "127.0.0.1:40000",
      connections: 1,
      loggedInAt: new Date().toISOString(),
      headerDigest: "None",
      dataDigest: "None",
    });
    const res = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    const text = await res.text();
    expect(text).toMatch(/^livesnap_volume_writes_total\{volume="vol1"\} 2$/m);
    expect(text).toMatch(
      new RegExp(`^livesnap_volume_written_bytes_total\\{volume="vol1"\\} ${2 * CHUNK}$`, "m"),
    );
    expect(text).toMatch(/^livesnap_volume_cow_copies_total\{volume="vol1"\} 1$/m);
    expect(text).toMatch(/^livesnap_volume_snapshots\{volume="vol1"\} 1$/m);
    expect(text).toMatch(/^livesnap_iscsi_sessions 1$/m);
    expect(text).toMatch(/^livesnap_iscsi_logins_total 1$/m);
    // The pool's writes above ran inline (the page cache served them) unless the tests run with
    // LIVESNAP_INLINE_IO=0: the counter reports the engine's process-wide count.
    const inline = Number(/^livesnap_engine_inline_io_total (\d+)$/m.exec(text)?.[1]);
    if (process.env.LIVESNAP_INLINE_IO === "0") expect(inline).toBe(0);
    else expect(inline).toBeGreaterThan(0);
    expect(text).toMatch(/^livesnap_engine_inline_io_pauses_total \d+$/m);
    // The process-wide busy-poll counters, as receive-poll.ts counts them: a policy on a fake
    // clock makes them differ (3 spins, 2 hits, 1 miss) so swapped wiring shows.
    const clock = { t: 1000 };
    const policy = new ReceivePollPolicy(
      50,
      {},
      () => clock.t,
      () => undefined,
    );
    policy.received(false);
    clock.t += 2;
    policy.responded();
    clock.t += 0.01;
    policy.received(false);
    for (const hit of [true, true, false]) {
      expect(policy.responded()).toBe(true);
      policy.spun(hit);
    }
    const text2 = await (
      await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.token}` } })
    ).text();
    const polls = busyPollStats();
    for (const [key, value] of Object.entries(polls)) {
      expect(text2).toMatch(new RegExp(`^livesnap_iscsi_busy_poll_${key}_total ${value}$`, "m"));
    }
    expect(text).toMatch(/^livesnap_api_call_duration_seconds_count\{method="stats.get",outcome="ok"\} 1$/m);
    server.observeCommand("vol1", "write", 0.0003);
    server.observeCommand("vol1", "write", 0.002);
    const after = await (
      await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.token}` } })
    ).text();
    expect(after).toMatch(
      /^livesnap_scsi_command_duration_seconds_bucket\{le="0.0005",volume="vol1",kind="write"\} 1$/m,
    );
    expect(after).toMatch(/^livesnap_scsi_command_duration_seconds_count\{volume="vol1",kind="write"\} 2$/m);
  });
});

describe("events over WebSocket", () => {
  it("pushes snapshot, volume and session events to subscribers", async () => {
    const ws = await connectWs();
    expect((await ws.call("events.subscribe", {})).events).toContain("snapshot.created");
    const created = waitFor(ws, "volume.created");
    await client.call("volume.create", { name: "vol1", sizeBytes: MiB });
    expect((await created).volume.name).toBe("vol1");
    const snap = waitFor(ws, "snapshot.created");
    await client.call("snapshot.create", { volume: "vol1", name: "s1" });
    expect(await snap).toMatchObject({ volume: "vol1", snapshot: { name: "s1" } });
    const login = waitFor(ws, "session.login");
    control.login({
      id: 7,
      target: "t",
      initiator: "i",
      isid: "0",
      remoteAddress: "127.0.0.1:1",
      connections: 1,
      loggedInAt: new Date().toISOString(),
      headerDigest: "None",
      dataDigest: "None",
    });
    expect((await login).id).toBe(7);
    await ws.close();
  });

  it("filters by volume and event name", async () => {
    await client.call("volume.create", { name: "a", sizeBytes: MiB });
    await client.call("volume.create", { name: "b", sizeBytes: MiB });
    const ws = await connectWs();
    await ws.call("events.subscribe", { events: ["snapshot.created"], volumes: ["b"] });
    const seen: string[] = [];
    ws.on("snapshot.created", (e) => seen.push(`${e.volume}@${e.snapshot.name}`));
    ws.on("snapshot.deleted", (e) => seen.push(`deleted ${e.volume}@${e.snapshot}`));
    const last = waitFor(ws, "snapshot.created", (e) => e.snapshot.name === "last");
    await client.call("snapshot.create", { volume: "a", name: "x" });
    await client.call("snapshot.create", { volume: "b", name: "y" });
    await client.call("snapshot.delete", { volume: "b", snapshot: "y" });
    await client.call("snapshot.create", { volume: "b", name: "last" });
    await last;
    expect(seen).toEqual(["b@y", "b@last"]);
    await ws.close();
  });

  it("coalesces written chunks into at most 10 deltas per second, losing none", async () => {
    await client.call("volume.create", { name: "vol1", sizeBytes: 4 * MiB });
    const ws = await connectWs();
    await ws.call("events.subscribe", { events: ["blockmap.delta"] });
    const deltas: number[][] = [];
    ws.on("blockmap.delta", (d) => {
      expect(d.chunkSize).toBe(CHUNK);
      deltas.push(runsToChunks(d.runs));
    });
    const written = new Set<number>();
    const started = Date.now();
    for (let i = 0; i < 200; i++) {
      const chunk = (i * 7) % 64;
      written.add(chunk);
      await write("vol1", chunk * CHUNK + 512, Buffer.alloc(512, i));
    }
    // The last delta follows within one interval; waiting for it (instead of sleeping a fixed
    // time) keeps a stalled event loop on a loaded machine from reading as a lost chunk.
    await vi.waitFor(() => expect(new Set(deltas.flat())).toEqual(written), { timeout: 5000, interval: 20 });
    const elapsed = Date.now() - started;
    expect(deltas.length).toBeLessThanOrEqual(Math.ceil(elapsed / DELTA_INTERVAL_MS) + 1);
    await ws.close();
  });

  it("answers other calls during a long rollback and throttles its progress events", async () => {
    const small = 4096;
    await client.call("volume.create", { name: "vol1", sizeBytes: 16 * MiB, chunkSize: small });
    const chunks = 2048;
    await write("vol1", 0, Buffer.alloc(chunks * small, 0x61));
    await client.call("snapshot.create", { volume: "vol1", name: "s1" });
    await write("vol1", 0, Buffer.alloc(chunks * small, 0x62)); // every chunk diverges: 2048 to restore
    const ws = await connectWs();
    await ws.call("events.subscribe", { events: ["rollback.progress"] });
    const progress: { done: number; total: number; at: number }[] = [];
    ws.on("rollback.progress", (p) =>
      progress.push({ done: p.doneChunks, total: p.totalChunks, at: Date.parse(p.at) }),
    );
    const order: string[] = [];
    const rollback = ws
      .call("snapshot.rollback", { volume: "vol1", snapshot: "s1" })
      .then(() => order.push("rollback"));
    const list = ws.call("volume.list", {}).then(() => order.push("list"));
    await Promise.all([rollback, list]);
    expect(order).toEqual(["list", "rollback"]);
    await vi.waitFor(() => expect(progress.at(-1)).toMatchObject({ done: chunks, total: chunks }), {
      timeout: 5000,
      interval: 20,
    });
    // The server sends at most one progress event per interval, plus the final one. Gaps are
    // measured on the send times the events carry: arrival times on a loaded machine bunch up (a
    // stalled loop delivers two events back to back). An unthrottled hub sends one event per 64
    // chunks (32 here) a few ms apart and fails. 2 ms of slack: Date.now() against libuv's clock.
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]!.done).toBeGreaterThanOrEqual(progress[i - 1]!.done);
      if (progress[i]!.done < chunks)
        expect(progress[i]!.at - progress[i - 1]!.at).toBeGreaterThanOrEqual(DELTA_INTERVAL_MS - 2);
    }
    expect(progress.length).toBeGreaterThan(1);
    expect((await pool.getVolume("vol1").read(0, small)).every((b) => b === 0x61)).toBe(true);
    await ws.close();
  });

  it("sends per-volume I/O rates once a second", async () => {
    await client.call("volume.create", { name: "vol1", sizeBytes: MiB });
    const ws = await connectWs();
    await ws.call("events.subscribe", { events: ["volume.io"], volumes: ["vol1"] });
    await waitFor(ws, "volume.io", () => true, 3000); // first interval: a baseline
    const samples: { volume: string; bytes: number; at: number }[] = [];
    ws.on("volume.io", (r) =>
      samples.push({
        volume: r.volume,
        bytes: (r.writeBytesPerSec * r.intervalMs) / 1000,
        at: Date.parse(r.at),
      }),
    );
    await write("vol1", 0, Buffer.alloc(CHUNK, 9));
    await write("vol1", CHUNK, Buffer.alloc(CHUNK, 9));
    // Rate × interval over the samples adds up to exactly the bytes written, once the intervals that
    // saw the writes have been sampled (waited for, not slept for: a loaded machine stalls timers),
    // and stays there through the next interval.
    const written = () => samples.reduce((n, s) => n + s.bytes, 0);
    await vi.waitFor(() => expect(written()).toBeGreaterThanOrEqual(2 * CHUNK - 1), {
      timeout: 5000,
      interval: 20,
    });
    expect(written()).toBeCloseTo(2 * CHUNK, 3);
    await waitFor(ws, "volume.io", () => true, 5000);
    expect(written()).toBeCloseTo(2 * CHUNK, 3);
    expect(samples.every((s) => s.volume === "vol1")).toBe(true);
    // Once a second: the samples' own stamps are a second apart (a late timer only widens a gap).
    const stamps = samples.map((s) => s.at);
    for (let i = 1; i < stamps.length; i++)
      expect(stamps[i]! - stamps[i - 1]!).toBeGreaterThanOrEqual(RATES_INTERVAL_MS - 2);
    await ws.close();
  });
});

describe("startup", () => {
  it("explains an address in use", async () => {
    const port = Number(new URL(server.url).port);
    await expect(
      startManagementServer({
        pool,
        control,
        dataDir: dir,
        port,
        logger: pino({ level: "silent" }),
        version: "x",
      }),
    ).rejects.toThrow(`management API: cannot listen on 127.0.0.1:${port}: the address is in use`);
    // The running server is untouched.
    expect((await client.call("volume.list", {})).volumes).toEqual([]);
  });
});
