// Data-Out DataSN checking (RFC 7143 §7.9 → §7.8, ErrorRecoveryLevel 0): a Data-Out out of
// sequence fails its command with CHECK CONDITION / ABORTED COMMAND / PROTOCOL SERVICE CRC ERROR
// once the command's data has all arrived, writes nothing, and leaves the session serving.
// Real target over a raw socket, RAM LUN.
import { randomBytes } from "node:crypto";
import { type ParsedPdu, TargetOpcode } from "@livesnap/iscsi";
import { afterEach, describe, expect, it, vi } from "vitest";
import { dataOutPool } from "../../src/iscsi/data-out-pool.js";
import { RawInitiator, read10, TEST_UNIT_READY, write10 } from "../helpers/raw-initiator.js";
import { startTestTarget, TEST_IQN, type TestTarget } from "../helpers/target.js";

const open: (TestTarget | RawInitiator)[] = [];

afterEach(async () => {
  for (const o of open.splice(0).reverse()) {
    if (o instanceof RawInitiator) o.close();
    else await o.close();
  }
});

/** A target and a logged-in initiator (power-on unit attention consumed), 512-byte segments. */
async function setup(keys: Record<string, string>): Promise<{ t: TestTarget; ini: RawInitiator }> {
  const t = await startTestTarget({ sizeBytes: 1024 * 1024 });
  open.push(t);
  const ini = await RawInitiator.connect(t.port);
  open.push(ini);
  const rsp = await ini.login({
    targetName: TEST_IQN,
    keys: { ImmediateData: "No", MaxRecvDataSegmentLength: "512", ...keys },
  });
  expect(rsp.bhs[36]).toBe(0);
  ini.command({ cdb: TEST_UNIT_READY, edtl: 0 });
  await ini.expect(TargetOpcode.scsiResponse);
  return { t, ini };
}

/** The PDU answering `itt` that is not an R2T (a Reject or the SCSI Response), or undefined. */
async function answer(ini: RawInitiator, itt: number): Promise<ParsedPdu | undefined> {
  for (;;) {
    const pdu = await ini.next(2000);
    if (!pdu) return undefined;
    const op = (pdu.bhs[0] as number) & 0x3f;
    if (op === TargetOpcode.reject) return pdu;
    if (op !== TargetOpcode.readyToTransfer && pdu.bhs.readUInt32BE(16) === itt) return pdu;
  }
}

function expectProtocolCrcError(rsp: ParsedPdu | undefined): void {
  expect(rsp && (rsp.bhs[0] as number) & 0x3f).toBe(TargetOpcode.scsiResponse);
  const r = rsp as ParsedPdu;
  expect(r.bhs[3]).toBe(0x02); // CHECK CONDITION
  const sense = r.data.subarray(2); // after the SenseLength field
  expect(sense[2]! & 0x0f).toBe(0x0b); // ABORTED COMMAND
  expect([sense[12], sense[13]]).toEqual([0x47, 0x05]); // PROTOCOL SERVICE CRC ERROR
}

/** The session still works: a write with correct DataSNs lands, and reads back. */
async function stillServes(t: TestTarget, ini: RawInitiator): Promise<void> {
  const data = randomBytes(2048);
  const itt = ini.command({ cdb: write10(8, 4), write: true, edtl: data.length });
  const rsp = await ini.serveWrite(itt, data);
  expect(rsp.bhs[3]).toBe(0);
  expect(t.backends[0]?.data.subarray(4096, 4096 + 2048).equals(data)).toBe(true);
  const ritt = ini.command({ cdb: read10(8, 4), read: true, edtl: 2048 });
  expect((await ini.collectRead(ritt, 2048)).data.equals(data)).toBe(true);
  expect(ini.closed).toBe(false);
}

describe("Data-Out DataSN out of sequence", () => {
  // libiscsi's iSCSIDataSnInvalid cases: [DataSN of each PDU], two PDUs of 512 bytes at most.
  const cases: { name: string; dataSNs: number[] }[] = [
    { name: "a repeated DataSN (0, 0)", dataSNs: [0, 0] },
    { name: "a DataSN ahead (27)", dataSNs: [27] },
    { name: "DataSN 0xffffffff", dataSNs: [0xffffffff] },
    { name: "DataSNs reversed (1, 0)", dataSNs: [1, 0] },
  ];

  for (const c of cases) {
    it(`fails the R2T-solicited write with ${c.name} and writes nothing`, async () => {
      const { t, ini } = await setup({ InitialR2T: "Yes" });
      const before = Buffer.from(t.backends[0]!.data.subarray(0, 1024));
      const data = randomBytes(512 * c.dataSNs.length);
      const itt = ini.command({ cdb: write10(0, c.dataSNs.length), write: true, edtl: data.length });
      const r2t = await ini.expect(TargetOpcode.readyToTransfer);
      const ttt = r2t.bhs.readUInt32BE(20);
      c.dataSNs.forEach((dataSN, i) => {
        const final = i === c.dataSNs.length - 1;
        ini.dataOut({
          itt,
          ttt,
          offset: i * 512,
          data: data.subarray(i * 512, (i + 1) * 512),
          dataSN,
          final,
        });
      });
      expectProtocolCrcError(await answer(ini, itt));
      expect(t.backends[0]!.data.subarray(0, 1024).equals(before)).toBe(true);
      await stillServes(t, ini);
    });
  }

  it("gives the Data-Out buffer of the failed command back to the pool", async () => {
    const { ini } = await setup({ InitialR2T: "Yes" });
    const release = vi.spyOn(dataOutPool, "release");
    try {
      const itt = ini.command({ cdb: write10(0, 2), write: true, edtl: 1024 });
      const ttt = (await ini.expect(TargetOpcode.readyToTransfer)).bhs.readUInt32BE(20);
      // The first PDU is in sequence (its data is placed), the second is not.
      ini.dataOut({ itt, ttt, offset: 0, data: randomBytes(512), dataSN: 0, final: false });
      ini.dataOut({ itt, ttt, offset: 512, data: randomBytes(512), dataSN: 0, final: true });
      expectProtocolCrcError(await answer(ini, itt));
      expect(release).toHaveBeenCalledTimes(1);
    } finally {
      release.mockRestore();
    }
  });

  it("fails an unsolicited write only after its last Data-Out (F bit)", async () => {
    const { t, ini } = await setup({ InitialR2T: "No", FirstBurstLength: "65536" });
    const data = randomBytes(1536);
    const itt = ini.command({ cdb: write10(0, 3), write: true, edtl: data.length, final: false });
    ini.dataOut({ itt, ttt: 0xffffffff, offset: 0, data: data.subarray(0, 512), dataSN: 1, final: false });
    // The target waits for the rest of the sequence before it answers.
    expect(await ini.next(300)).toBeUndefined();
    ini.dataOut({
      itt,
      ttt: 0xffffffff,
      offset: 512,
      data: data.subarray(512, 1024),
      dataSN: 2,
      final: false,
    });
    ini.dataOut({ itt, ttt: 0xffffffff, offset: 1024, data: data.subarray(1024), dataSN: 3, final: true });
    expectProtocolCrcError(await answer(ini, itt));
    expect(t.backends[0]!.data.subarray(0, 1536).every((b) => b === 0)).toBe(true);
    await stillServes(t, ini);
  });

  it("sends no further R2Ts once a sequence is broken", async () => {
    const { ini } = await setup({ InitialR2T: "Yes", MaxBurstLength: "1024", FirstBurstLength: "1024" });
    const data = randomBytes(4096);
    const itt = ini.command({ cdb: write10(0, 8), write: true, edtl: data.length });
    const r2t = await ini.expect(TargetOpcode.readyToTransfer);
    expect(r2t.bhs.readUInt32BE(44)).toBe(1024);
    const ttt = r2t.bhs.readUInt32BE(20);
    ini.dataOut({ itt, ttt, offset: 0, data: data.subarray(0, 512), dataSN: 5, final: false });
    ini.dataOut({ itt, ttt, offset: 512, data: data.subarray(512, 1024), dataSN: 6, final: true });
    // The very next PDU is the answer: the other 3 KiB are never asked for.
    const rsp = await ini.next(2000);
    expectProtocolCrcError(rsp);
    expect(rsp?.bhs.readUInt32BE(16)).toBe(itt);
  });
});
