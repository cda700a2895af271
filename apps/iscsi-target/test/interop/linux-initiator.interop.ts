// The Linux kernel initiator (open-iscsi + iscsi_tcp in a QEMU VM) against the built daemon:
// digests, mkfs/e2fsck/fio, CHAP, and the live snapshot taken with the real CLI while the guest
// writes, verified from a second boot. tools/interop/vm/run-livesnap.sh does the work; its verdict
// line and exit status decide this test.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const script = fileURLToPath(new URL("../../../../tools/interop/vm/run-livesnap.sh", import.meta.url));

it("Linux kernel initiator in a VM: file system, digests, CHAP, live snapshot verified on a second boot", async () => {
  const child = spawn("bash", [script], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    process.stdout.write(d);
  });
  child.stderr.on("data", (d: Buffer) => process.stderr.write(d));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  expect(out).toMatch(/INTEROP-VM PASS: every boot passed/);
  expect(code).toBe(0);
}, 600_000);
