// Shared by the tests that drive a SCSI target port directly: one I_T nexus, and teardown steps
// run after each test in reverse order of registration.
import type { ItNexus } from "@livesnap/iscsi";
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
