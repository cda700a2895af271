// The transport against libiscsi's tools and qemu over real loopback sockets (RAM LUNs).
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestTarget, TEST_IQN, type TestTarget } from "../helpers/target.js";
import { run } from "../helpers/tools.js";

let target: TestTarget;

beforeAll(async () => {
  target = await startTestTarget({ sizeBytes: 16 * 1024 * 1024 });
});
afterAll(async () => {
  await target.close();
});

describe("libiscsi tools", () => {
  it("iscsi-ls discovers the target and its LUN", async () => {
    const r = await run("iscsi-ls", ["-s", `iscsi://127.0.0.1:${target.port}`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Target:${TEST_IQN}`);
    expect(r.stdout).toContain(`127.0.0.1:${target.port},1`);
    expect(r.stdout).toMatch(/Lun:0\s+Type:DIRECT_ACCESS/);
  });

  it("iscsi-inq reads standard INQUIRY and VPD pages", async () => {
    const std = await run("iscsi-inq", [target.url()]);
    expect(std.code).toBe(0);
    expect(std.stdout).toContain("Peripheral Device Type:DIRECT_ACCESS");
    expect(std.stdout).toContain("Vendor:LIVESNAP");
    const vpd = await run("iscsi-inq", ["-e", "1", "-c", "0x80", target.url()]);
    expect(vpd.code).toBe(0);
    expect(vpd.stdout.toLowerCase()).toContain("serial");
  });

  it("iscsi-readcapacity16 reports the size", async () => {
    const r = await run("iscsi-readcapacity16", [target.url()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("LOGICAL BLOCK LENGTH IN BYTES:512");
    expect(r.stdout).toContain(`RETURNED LOGICAL BLOCK ADDRESS:${16 * 1024 * 2 - 1}`);
    expect(r.stdout).toContain(`Total size:${16 * 1024 * 1024}`);
  });
});

describe("qemu-img over iscsi://", () => {
  it("converts a random image into the LUN and compares it back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "livesnap-qemu-"));
    try {
      const image = join(dir, "random.raw");
      writeFileSync(image, randomBytes(16 * 1024 * 1024));
      const conv = await run(
        "qemu-img",
        ["convert", "-n", "-f", "raw", "-O", "raw", image, target.url()],
        120_000,
      );
      expect(conv.stderr).toBe("");
      expect(conv.code).toBe(0);
      const cmp = await run("qemu-img", ["compare", "-f", "raw", "-F", "raw", image, target.url()], 120_000);
      expect(cmp.stdout).toContain("Images are identical");
      expect(cmp.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
