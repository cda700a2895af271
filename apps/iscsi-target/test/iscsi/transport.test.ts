// Transport behaviour over a raw socket: digests, R2T/Data-Out, residuals, NOP, task
// management, CmdSN window, reinstatement, malformed PDUs. Real target, RAM LUN.
import { randomBytes } from "node:crypto";
import { RejectReason, TargetOpcode, TmfFunction, TmfResponse } from "@livesnap/iscsi";
import { afterEach, describe, expect, it } from "vitest";
import { RawInitiator, read10, TEST_UNIT_READY, write10 } from "../helpers/raw-initiator.js";
import { startTestTarget, TEST_IQN, type TestTarget } from "../helpers/target.js";

const open: (TestTarget | RawInitiator)[] = [];

async function target(opts: Parameters<typeof startTestTarget>[0] = {}): Promise<TestTarget> {
  const t = await startTestTarget({ sizeBytes: 8 * 1024 * 1024, ...opts });
  open.push(t);
  return t;
}

/** Logged-in initiator with the power-on unit attention consumed. */
async function session(
  t: TestTarget,
  keys: Record<string, string> = {},
  isid?: Buffer,
): Promise<RawInitiator> {
  const ini = await RawInitiator.connect(t.port);
  open.push(ini);
  const rsp = await ini.login({ targetName: TEST_IQN, keys, ...(isid ? { isid } : {}) });
  expect(rsp.bhs[36]).toBe(0);
  const itt = ini.command({ cdb: TEST_UNIT_READY, edtl: 0 });
  const r = await ini.expect(TargetOpcode.scsiResponse);
  expect(r.bhs.readUInt32BE(16)).toBe(itt);
  return ini;
}

afterEach(async () => {
  for (const o of open.splice(0).reverse()) {
    if (o instanceof RawInitiator) o.close();
    else await o.close();
  }
});

describe("data transfer", () => {
  it("writes with immediate data + R2T and reads back, with header and data digests", async () => {
    const t = await target();
    const ini = await session(t, {
      HeaderDigest: "CRC32C",
      DataDigest: "CRC32C",
      ImmediateData: "Yes",
      InitialR2T: "Yes",
      MaxBurstLength: "65536",
      FirstBurstLength: "16384",
      MaxRecvDataSegmentLength: "8192",
    });
    expect(ini.digests).toEqual({ headerDigest: true, dataDigest: true });
    const data = randomBytes(256 * 1024);
    const itt = ini.command({
      cdb: write10(8, 512),
      write: true,
      edtl: data.length,
      immediateData: data.subarray(0, 8192),
    });
    const rsp = await ini.serveWrite(itt, data);
    expect(rsp.bhs[3]).toBe(0);
    expect(t.backends[0]?.data.subarray(4096, 4096 + data.length).equals(data)).toBe(true);

    const ritt = ini.command({ cdb: read10(8, 512), read: true, edtl: data.length });
    const back = await ini.collectRead(ritt, data.length);
    expect(back.data.equals(data)).toBe(true);
    expect(back.status.bhs[3]).toBe(0);
  });

  it("keeps MaxOutstandingR2T R2Ts of at most MaxBurstLength in flight", async () => {
    const t = await target();
    const ini = await session(t, {
      InitialR2T: "Yes",
      ImmediateData: "No",
      MaxBurstLength: "8192",
      FirstBurstLength: "8192",
      MaxOutstandingR2T: "4",
    });
    expect(ini.negotiated.get("MaxOutstandingR2T")).toBe("4");
    const data = randomBytes(65536);
    const itt = ini.command({ cdb: write10(0, 128), write: true, edtl: data.length });
    const first: { offset: number; length: number; r2tSN: number; ttt: number }[] = [];
    for (let i = 0; i < 4; i++) {
      const r2t = await ini.expect(TargetOpcode.readyToTransfer);
      first.push({
        offset: r2t.bhs.readUInt32BE(40),
        length: r2t.bhs.readUInt32BE(44),
        r2tSN: r2t.bhs.readUInt32BE(36),
        ttt: r2t.bhs.readUInt32BE(20),
      });
    }
    expect(first.map(({ ttt: _, ...r }) => r)).toEqual(
      [0, 1, 2, 3].map((i) => ({ offset: i * 8192, length: 8192, r2tSN: i })),
    );
    expect(await ini.next(200)).toBeUndefined(); // no fifth before one is answered
    for (const r of first) {
      ini.dataOut({
        itt,
        ttt: r.ttt,
        offset: r.offset,
        data: data.subarray(r.offset, r.offset + r.length),
        dataSN: 0,
        final: true,
      });
    }
    const rsp = await ini.serveWrite(itt, data); // the remaining four R2Ts, then status
    expect(rsp.bhs[3]).toBe(0);
    expect(rsp.bhs.readUInt32BE(36)).toBe(8); // ExpDataSN: R2Ts sent for the command
    expect(t.backends[0]?.data.subarray(0, data.length).equals(data)).toBe(true);
  });

  it("accepts unsolicited Data-Out up to FirstBurstLength when InitialR2T=No", async () => {
    const t = await target();
    const ini = await session(t, { InitialR2T: "No", ImmediateData: "No", FirstBurstLength: "8192" });
    const data = randomBytes(16384);
    const itt = ini.command({ cdb: write10(0, 32), write: true, edtl: data.length, final: false });
    ini.dataOut({ itt, ttt: 0xffffffff, offset: 0, data: data.subarray(0, 8192), dataSN: 0, final: true });
    const rsp = await ini.serveWrite(itt, data);
    expect(rsp.bhs[3]).toBe(0);
    expect(t.backends[0]?.data.subarray(0, 16384).equals(data)).toBe(true);
  });

  it("ends each Data-In sequence at MaxBurstLength with the F bit", async () => {
    const t = await target();
    const ini = await session(t, {
      MaxBurstLength: "4096",
      FirstBurstLength: "4096",
      MaxRecvDataSegmentLength: "2048",
    });
    const itt = ini.command({ cdb: read10(0, 32), read: true, edtl: 16384 });
    const seen: { offset: number; length: number; final: boolean; status: boolean }[] = [];
    for (;;) {
      const pdu = await ini.expect(TargetOpcode.scsiDataIn);
      expect(pdu.bhs.readUInt32BE(16)).toBe(itt);
      const flags = pdu.bhs[1] as number;
      seen.push({
        offset: pdu.bhs.readUInt32BE(40),
        length: pdu.data.length,
        final: (flags & 0x80) !== 0,
        status: (flags & 1) !== 0,
      });
      if (flags & 1) break;
    }
    expect(seen.map((s) => s.length)).toEqual(Array(8).fill(2048));
    expect(seen.filter((s) => s.final).map((s) => s.offset + s.length)).toEqual([4096, 8192, 12288, 16384]);
    expect(seen.at(-1)?.status).toBe(true);
  });

  it("reports read overflow and underflow residuals exactly", async () => {
    const t = await target();
    const ini = await session(t);
    // CDB asks 4 blocks (2048 bytes), EDTL 1024: 1024 bytes sent, overflow 1024.
    const over = ini.command({ cdb: read10(0, 4), read: true, edtl: 1024 });
    const o = await ini.collectRead(over, 1024);
    expect((o.status.bhs[1] as number) & 0x04).toBe(0x04);
    expect(o.status.bhs.readUInt32BE(44)).toBe(1024);
    // CDB asks 1 block, EDTL 4096: underflow 3584.
    const under = ini.command({ cdb: read10(0, 1), read: true, edtl: 4096 });
    const u = await ini.collectRead(under, 4096);
    expect((u.status.bhs[1] as number) & 0x02).toBe(0x02);
    expect(u.status.bhs.readUInt32BE(44)).toBe(3584);
  });

  it("drops the connection on a data digest error and keeps other sessions serving", async () => {
    const t = await target();
    const bad = await session(t, { DataDigest: "CRC32C", ImmediateData: "Yes" });
    const good = await session(t, {}, Buffer.from([0x80, 0, 0, 0, 0, 9]));
    // Build a write with immediate data, then flip one data byte after serialization.
    bad.digests.dataDigest = true;
    const data = randomBytes(512);
    const original = bad.socket.write.bind(bad.socket);
    let n = 0;
    bad.socket.write = ((chunk: Buffer) => {
      n++;
      if (n === 2) chunk = Buffer.from(chunk).fill(0xee, 0, 1);
      return original(chunk);
    }) as typeof bad.socket.write;
    bad.command({ cdb: write10(0, 1), write: true, edtl: 512, immediateData: data });
    const reject = await bad.expect(TargetOpcode.reject);
    expect(reject.bhs[2]).toBe(RejectReason.dataDigestError);
    expect(await bad.closedWithin(2000)).toBe(true);

    const itt = good.command({ cdb: read10(0, 1), read: true, edtl: 512 });
    const r = await good.collectRead(itt, 512);
    expect(r.status.bhs[3]).toBe(0);
  });
});

describe("NOP", () => {
  it("answers a ping with the same data and ITT", async () => {
    const t = await target();
    const ini = await session(t);
    const itt = ini.nopOut({ data: Buffer.from("ping-payload") });
    const nop = await ini.expect(TargetOpcode.nopIn);
    expect(nop.bhs.readUInt32BE(16)).toBe(itt);
    expect(nop.bhs.readUInt32BE(20)).toBe(0xffffffff);
    expect(nop.data.toString()).toBe("ping-payload");
  });

  it("pings an idle initiator and drops it when it stops answering", async () => {
    // A timeout well above the interval: the target shares this process's event loop, and a stall on
    // a loaded CI machine must not read as a peer that stopped answering.
    const t = await target({ keepalive: { intervalMs: 150, timeoutMs: 1000 } });
    const alive = await session(t);
    const dead = await session(t, {}, Buffer.from([0x80, 0, 0, 0, 0, 2]));
    // `alive` answers every ping; `dead` never does.
    let deadClosed = false;
    const closing = dead.closedWithin(5000).then((closed) => {
      deadClosed = closed;
      return closed;
    });
    let pings = 0;
    let pingsAfterDrop = 0;
    while (pingsAfterDrop < 3 && pings < 60) {
      const ping = await alive.expect(TargetOpcode.nopIn, 2000);
      expect(ping.bhs.readUInt32BE(16)).toBe(0xffffffff);
      const ttt = ping.bhs.readUInt32BE(20);
      expect(ttt).not.toBe(0xffffffff);
      alive.nopOut({ itt: 0xffffffff, ttt });
      pings++;
      if (deadClosed) pingsAfterDrop++;
    }
    expect(await closing).toBe(true);
    expect(pingsAfterDrop).toBe(3); // pinged on after the other peer's drop, and answered
    expect(alive.closed).toBe(false);
  });
});

describe("task management", () => {
  it("ABORT TASK on a write waiting for its data, then the LUN keeps working", async () => {
    const t = await target();
    const ini = await session(t, { InitialR2T: "Yes", ImmediateData: "No" });
    const w = ini.command({ cdb: write10(0, 8), write: true, edtl: 4096 });
    const r2t = await ini.expect(TargetOpcode.readyToTransfer);
    expect(r2t.bhs.readUInt32BE(16)).toBe(w);
    const tmf = ini.tmf(TmfFunction.abortTask, { rtt: w, refCmdSN: ini.cmdSN - 1 });
    const rsp = await ini.expect(TargetOpcode.taskManagementResponse);
    expect(rsp.bhs.readUInt32BE(16)).toBe(tmf);
    expect(rsp.bhs[2]).toBe(TmfResponse.functionComplete);
    const r = ini.command({ cdb: read10(0, 1), read: true, edtl: 512 });
    const back = await ini.collectRead(r, 512);
    expect(back.status.bhs.readUInt32BE(16)).toBe(r);
  });

  it("PERSISTENT RESERVE OUT PREEMPT AND ABORT aborts the preempted session's waiting write", async () => {
    const t = await target();
    const keys = { InitialR2T: "Yes", ImmediateData: "No" };
    const a = await session(t, keys, Buffer.from("400000000a01", "hex"));
    const b = await session(t, keys, Buffer.from("400000000b01", "hex"));
    const prOut = (ini: RawInitiator, sa: number, key: bigint, sark: bigint) => {
      const cdb = Buffer.alloc(10);
      cdb[0] = 0x5f;
      cdb[1] = sa;
      cdb[2] = 0x01; // scope LU, type WRITE EXCLUSIVE
      cdb.writeUInt32BE(24, 5);
      const params = Buffer.alloc(24);
      params.writeBigUInt64BE(key, 0);
      params.writeBigUInt64BE(sark, 8);
      const itt = ini.command({ cdb, write: true, edtl: 24 });
      return ini.serveWrite(itt, params);
    };
    for (const [ini, key] of [
      [a, 0xaan],
      [b, 0xbbn],
    ] as const) {
      expect((await prOut(ini, 0x00, 0n, key)).bhs[3]).toBe(0); // REGISTER
    }
    expect((await prOut(b, 0x01, 0xbbn, 0n)).bhs[3]).toBe(0); // RESERVE
    const w = b.command({ cdb: write10(0, 8), write: true, edtl: 4096 });
    const r2t = await b.expect(TargetOpcode.readyToTransfer);
    expect(r2t.bhs.readUInt32BE(16)).toBe(w);

    expect((await prOut(a, 0x05, 0xaan, 0xbbn)).bhs[3]).toBe(0); // PREEMPT AND ABORT

    // B's data now arrives for a task that no longer exists: no response; the ping answers first.
    b.dataOut({
      itt: w,
      ttt: r2t.bhs.readUInt32BE(20),
      offset: 0,
      data: Buffer.alloc(4096, 0x77),
      dataSN: 0,
      final: true,
    });
    const ping = b.nopOut({ immediate: true });
    const next = await b.next();
    expect(next && (next.bhs[0] as number) & 0x3f).toBe(TargetOpcode.nopIn);
    expect(next?.bhs.readUInt32BE(16)).toBe(ping);
    const r = a.command({ cdb: read10(0, 8), read: true, edtl: 4096 });
    expect((await a.collectRead(r, 4096)).data.equals(Buffer.alloc(4096))).toBe(true);
  });

  it("ABORT TASK for a task that already completed says it does not exist (RFC 7143 §11.5.1)", async () => {
    const t = await target();
    const ini = await session(t);
    const r = ini.command({ cdb: read10(0, 1), read: true, edtl: 512 });
    await ini.collectRead(r, 512);
    ini.tmf(TmfFunction.abortTask, { rtt: r, refCmdSN: ini.cmdSN - 1 });
    const rsp = await ini.expect(TargetOpcode.taskManagementResponse);
    expect(rsp.bhs[2]).toBe(TmfResponse.taskDoesNotExist);
  });

  it("ABORT TASK for an unknown task not yet received says it does not exist", async () => {
    const t = await target();
    const ini = await session(t);
    ini.tmf(TmfFunction.abortTask, { rtt: 0x1234, refCmdSN: ini.cmdSN + 5 });
    const rsp = await ini.expect(TargetOpcode.taskManagementResponse);
    expect(rsp.bhs[2]).toBe(TmfResponse.taskDoesNotExist);
  });

  it.each([
    [TmfFunction.abortTaskSet, TmfResponse.functionComplete],
    [TmfFunction.clearTaskSet, TmfResponse.functionComplete],
    [TmfFunction.logicalUnitReset, TmfResponse.functionComplete],
    [TmfFunction.targetWarmReset, TmfResponse.functionComplete],
    [TmfFunction.taskReassign, TmfResponse.taskReassignmentNotSupported],
    [99, TmfResponse.functionNotSupported],
  ])("function %i answers %i and never wedges the session", async (fn, expected) => {
    const t = await target();
    const ini = await session(t, { InitialR2T: "Yes", ImmediateData: "No" });
    ini.command({ cdb: write10(0, 8), write: true, edtl: 4096 }); // left waiting for data
    await ini.expect(TargetOpcode.readyToTransfer);
    ini.tmf(fn);
    const rsp = await ini.expect(TargetOpcode.taskManagementResponse);
    expect(rsp.bhs[2]).toBe(expected);
    const itt = ini.nopOut();
    const nop = await ini.expect(TargetOpcode.nopIn);
    expect(nop.bhs.readUInt32BE(16)).toBe(itt);
  });

  it("LUN RESET on a missing LUN answers LUN does not exist", async () => {
    const t = await target();
    const ini = await session(t);
    ini.tmf(TmfFunction.logicalUnitReset, { lun: 7 });
    const rsp = await ini.expect(TargetOpcode.taskManagementResponse);
    expect(rsp.bhs[2]).toBe(TmfResponse.lunDoesNotExist);
  });

  it("TARGET COLD RESET answers, then ends the target's sessions", async () => {
    const t = await target();
    const ini = await session(t);
    ini.tmf(TmfFunction.targetColdReset);
    const rsp = await ini.expect(TargetOpcode.taskManagementResponse);
    expect(rsp.bhs[2]).toBe(TmfResponse.functionComplete);
    expect(await ini.closedWithin(2000)).toBe(true);
  });
});

describe("sessions", () => {
  it("advances MaxCmdSN as commands complete and ignores a command beyond the window", async () => {
    const t = await target({ queueDepth: 4 });
    const ini = await session(t);
    const itt = ini.nopOut({ immediate: false });
    const nop = await ini.expect(TargetOpcode.nopIn);
    expect(nop.bhs.readUInt32BE(16)).toBe(itt);
    const expCmdSN = nop.bhs.readUInt32BE(28);
    const maxCmdSN = nop.bhs.readUInt32BE(32);
    expect(expCmdSN).toBe(ini.cmdSN);
    expect(maxCmdSN - expCmdSN).toBe(3);
    // CmdSN far beyond MaxCmdSN: silently ignored.
    const saved = ini.cmdSN;
    ini.cmdSN = maxCmdSN + 10;
    ini.nopOut({ immediate: false });
    ini.cmdSN = saved;
    expect(await ini.next(300)).toBeUndefined();
    const again = ini.nopOut({ immediate: false });
    expect((await ini.expect(TargetOpcode.nopIn)).bhs.readUInt32BE(16)).toBe(again);
  });

  it("reinstates a session logged in again with the same ISID", async () => {
    const t = await target();
    const isid = Buffer.from([0x80, 1, 2, 3, 4, 5]);
    const first = await session(t, {}, isid);
    const second = await session(t, {}, isid);
    expect(await first.closedWithin(2000)).toBe(true);
    expect(t.server.listSessions().map((s) => s.isid)).toEqual(["800102030405"]);
    const itt = second.nopOut();
    expect((await second.expect(TargetOpcode.nopIn)).bhs.readUInt32BE(16)).toBe(itt);
  });

  it("reinstates a connection under the same TSIH, and refuses an unknown TSIH", async () => {
    const t = await target();
    const isid = Buffer.from([0x80, 9, 9, 9, 9, 9]);
    const first = await session(t, {}, isid);
    const tsih = t.server.listSessions()[0]?.tsih ?? 0;
    expect(tsih).toBeGreaterThan(0);
    const again = await RawInitiator.connect(t.port);
    open.push(again);
    again.cmdSN = first.cmdSN;
    const rsp = await again.login({ targetName: TEST_IQN, isid, tsih });
    expect(rsp.bhs.readUInt16BE(36)).toBe(0);
    expect(rsp.bhs.readUInt16BE(14)).toBe(tsih);
    expect(await first.closedWithin(2000)).toBe(true);
    const itt = again.nopOut();
    expect((await again.expect(TargetOpcode.nopIn)).bhs.readUInt32BE(16)).toBe(itt);

    const stranger = await RawInitiator.connect(t.port);
    open.push(stranger);
    const no = await stranger.login({
      targetName: TEST_IQN,
      isid: Buffer.from([0x80, 7, 7, 7, 7, 7]),
      tsih: 0x7777,
    });
    expect(no.bhs.readUInt16BE(36)).toBe(0x020a);
  });

  it("serves 24 concurrent sessions, each writing and reading back its own region", async () => {
    const t = await target();
    const sessions = await Promise.all(
      Array.from({ length: 24 }, (_, i) => session(t, {}, Buffer.from([0x80, 0, 0, 0, 1, i]))),
    );
    await Promise.all(
      sessions.map(async (ini, i) => {
        for (let round = 0; round < 4; round++) {
          const data = randomBytes(32 * 1024);
          const lba = i * 256 + round * 64;
          const w = ini.command({
            cdb: write10(lba, 64),
            write: true,
            edtl: data.length,
            immediateData: data.subarray(0, 8192),
          });
          expect((await ini.serveWrite(w, data)).bhs[3]).toBe(0);
          const r = ini.command({ cdb: read10(lba, 64), read: true, edtl: data.length });
          expect((await ini.collectRead(r, data.length)).data.equals(data)).toBe(true);
        }
      }),
    );
    expect(t.server.listSessions()).toHaveLength(24);
  });

  it("logs out cleanly", async () => {
    const t = await target();
    const ini = await session(t);
    const itt = ini.logout();
    const rsp = await ini.expect(TargetOpcode.logoutResponse);
    expect(rsp.bhs.readUInt32BE(16)).toBe(itt);
    expect(rsp.bhs[2]).toBe(0);
    expect(await ini.closedWithin(2000)).toBe(true);
    expect(t.server.listSessions()).toEqual([]);
  });

  it("continues a SendTargets answer longer than the initiator's MaxRecvDataSegmentLength", async () => {
    const t = await target();
    for (let i = 0; i < 40; i++)
      t.targets.push({
        ...(t.targets[0] as (typeof t.targets)[0]),
        name: `iqn.2026-11.io.livesnap:extra-${i}`,
      });
    const disc = await RawInitiator.connect(t.port);
    open.push(disc);
    await disc.login({ sessionType: "Discovery", keys: { MaxRecvDataSegmentLength: "512" } });
    const itt = disc.text([["SendTargets", "All"]]);
    let text = "";
    for (;;) {
      const rsp = await disc.expect(TargetOpcode.textResponse);
      expect(rsp.data.length).toBeLessThanOrEqual(512);
      text += rsp.data.toString("latin1");
      if ((rsp.bhs[1] as number) & 0x80) break;
      expect((rsp.bhs[1] as number) & 0x40).toBe(0x40); // C: more follows
      // Ask for the rest: same ITT, the target's TTT, empty data.
      const bhs = Buffer.alloc(48);
      bhs[0] = 0x44;
      bhs[1] = 0x80;
      bhs.writeUInt32BE(itt, 16);
      bhs.writeUInt32BE(rsp.bhs.readUInt32BE(20), 20);
      bhs.writeUInt32BE(disc.cmdSN, 24);
      bhs.writeUInt32BE(disc.expStatSN, 28);
      disc.send({ bhs, ahs: Buffer.alloc(0), data: Buffer.alloc(0) });
    }
    const names = text.split("\0").filter((kv) => kv.startsWith("TargetName="));
    expect(names).toHaveLength(41);
  });

  it("asks initiators to log out when the server shuts down", async () => {
    const t = await startTestTarget({ sizeBytes: 1024 * 1024 });
    const ini = await session(t);
    const closing = t.server.close(300);
    const msg = await ini.expect(TargetOpcode.asyncMessage);
    expect(msg.bhs[36]).toBe(1); // AsyncEvent: target requests logout
    ini.logout();
    await ini.expect(TargetOpcode.logoutResponse);
    await closing;
    expect(await ini.closedWithin(2000)).toBe(true);
  });

  it("answers SendTargets in a discovery session and in a normal one", async () => {
    const t = await target();
    const disc = await RawInitiator.connect(t.port);
    open.push(disc);
    await disc.login({ sessionType: "Discovery" });
    disc.text([["SendTargets", "All"]]);
    const rsp = await disc.expect(TargetOpcode.textResponse);
    expect(rsp.data.toString()).toBe(`TargetName=${TEST_IQN}\0TargetAddress=127.0.0.1:${t.port},1\0`);
    const normal = await session(t);
    normal.text([["SendTargets", ""]]);
    const own = await normal.expect(TargetOpcode.textResponse);
    expect(own.data.toString()).toContain(`TargetName=${TEST_IQN}`);
  });
});

describe("malformed input", () => {
  it("rejects an unknown opcode and keeps the session", async () => {
    const t = await target();
    const ini = await session(t);
    const bhs = Buffer.alloc(48);
    bhs[0] = 0x1c | 0x40;
    bhs[1] = 0x80;
    ini.send({ bhs, ahs: Buffer.alloc(0), data: Buffer.alloc(0) });
    const reject = await ini.expect(TargetOpcode.reject);
    expect(reject.bhs[2]).toBe(RejectReason.commandNotSupported);
    expect(reject.data.subarray(0, 48).equals(bhs)).toBe(true);
    const itt = ini.nopOut();
    expect((await ini.expect(TargetOpcode.nopIn)).bhs.readUInt32BE(16)).toBe(itt);
  });

  it("a rejected command still takes its CmdSN, so the next one is served", async () => {
    const t = await target();
    const ini = await session(t);
    // SCSI Command whose AHS length runs past the AHS area: Reject (invalid PDU field).
    const bhs = Buffer.alloc(48);
    bhs[0] = 0x01;
    bhs[1] = 0x80;
    bhs.writeUInt32BE(ini.itt++, 16);
    bhs.writeUInt32BE(ini.cmdSN++, 24);
    const ahs = Buffer.alloc(4);
    ahs.writeUInt16BE(200, 0);
    ahs[2] = 1;
    ini.send({ bhs, ahs, data: Buffer.alloc(0) });
    expect((await ini.expect(TargetOpcode.reject)).bhs[2]).toBe(RejectReason.invalidPduField);
    const itt = ini.nopOut({ immediate: false });
    expect((await ini.expect(TargetOpcode.nopIn)).bhs.readUInt32BE(16)).toBe(itt);
  });

  it("drops a connection announcing a data segment beyond MaxRecvDataSegmentLength", async () => {
    const t = await target();
    const ini = await session(t);
    const bhs = Buffer.alloc(48);
    bhs[0] = 0x01;
    bhs[1] = 0xa1;
    bhs.writeUIntBE(0xffffff, 5, 3);
    ini.sendRaw(bhs);
    expect(await ini.closedWithin(2000)).toBe(true);
  });

  it("drops a connection whose first PDU is not a Login Request", async () => {
    const t = await target();
    const ini = await RawInitiator.connect(t.port);
    open.push(ini);
    ini.nopOut();
    expect(await ini.closedWithin(2000)).toBe(true);
  });

  it("fails a login to an unknown target with status 0x0203", async () => {
    const t = await target();
    const ini = await RawInitiator.connect(t.port);
    open.push(ini);
    const rsp = await ini.login({ targetName: "iqn.2026-11.nope:x" });
    expect(rsp.bhs.readUInt16BE(36)).toBe(0x0203);
    expect(await ini.closedWithin(2000)).toBe(true);
  });
});
