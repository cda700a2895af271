// Shared by the tests that drive a SCSI target port directly: one I_T nexus, a command runner
// (admit, then execute the way the transport does), and teardown steps run after each test in
// reverse order of registration.
import type { ItNexus, ScsiTarget } from "@livesnap/iscsi";
import { afterEach } from "vitest";

export const testNexus: ItNexus = {
  id: "n1",
  initiatorName: "iqn.2026-01.test:i",
  isid: "400000000001",
  targetName: "iqn.2026-01.test:t",
  targetPortalGroupTag: 1,
  relativeTargetPortId: 1,
};

/** A list to push teardown steps onto; after each test they run, newest first. */
export function teardownAfterEach(): (() => Promise<void>)[] {
  const steps: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const f of steps.splice(0).reverse()) await f();
  });
  return steps;
}

/**
 * Admits `cdb` on `lun` and executes it with `dataOut` (a write) or none (a read); an immediate
 * answer (a check at admission) is returned as is.
 */
export async function runCdb(
  target: ScsiTarget,
  cdb: readonly number[],
  opts: { lun?: number; edtl: number; dataOut?: Uint8Array | undefined },
): Promise<{ status: number; sense?: Uint8Array; dataIn?: Uint8Array }> {
  const { dataOut } = opts;
  const adm = target.admit({
    lun: opts.lun ?? 0,
    cdb: Uint8Array.from(cdb),
    nexus: testNexus,
    expectedDataTransferLength: opts.edtl,
    readBit: !dataOut,
    writeBit: !!dataOut,
    taskTag: 1,
    attribute: "simple",
  });
  if (adm.kind === "immediate") return adm.response;
  return target.execute(adm, dataOut);
}
