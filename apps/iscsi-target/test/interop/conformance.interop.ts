// libiscsi's conformance suite (iscsi-test-cu) against the built daemon, on a scratch volume:
// every test must pass or skip except known libiscsi test bugs, and at least MIN_PASS overall.
// Prints the counts.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { requireTool } from "../helpers/tools.js";
import { type DaemonProcess, spawnDaemon } from "./daemon-process.js";

const IQN = "iqn.2026-11.io.livesnap:conformance";

/**
 * Tests the reference target (tgt) does not pass (FAIL or SKIP): a FAIL there is reported but
 * does not fail this suite; a FAIL anywhere else does. Suite.Test names, as iscsi-test-cu prints.
 */
const TGT_NOT_PASSING = new Set<string>(
  (
    JSON.parse(readFileSync(new URL("./tgt-not-passing.json", import.meta.url), "utf8")) as {
      notPassing: string[];
    }
  ).notPassing,
);

/**
 * libiscsi tests whose assertion contradicts the standard on a LUN with more than one logical block
 * per physical block; everything else must pass or skip. UnmapSingle wants GET LBA STATUS at LBA
 * i+1 to start its first descriptor at i+lbppb (SBC-4: at i+1), so it fails on any conforming LUN
 * with 512-byte blocks and 4 KiB physical blocks (packages/iscsi/src/scsi/README.md).
 */
const LIBISCSI_TEST_BUGS_512E = new Set<string>(["GetLBAStatus.UnmapSingle"]);

/** The goal for the whole suite, on each LUN format. */
const MIN_PASS = 200;

/** Families to run (LIVESNAP_CU_TESTS overrides, e.g. "ALL" or "SCSI.Read10"). */
const TESTS = process.env.LIVESNAP_CU_TESTS ?? "ALL";

let daemon: DaemonProcess;

beforeAll(async () => {
  daemon = await spawnDaemon({
    targets: [{ iqn: IQN, autoVolumes: true }],
    defaultVolume: { name: "boot", sizeBytes: 16 * 1024 * 1024 },
  });
  // 512-byte logical blocks on 4 KiB physical (512e, the default) and 4 KiB native (4Kn).
  await daemon.rpc("volume.create", { name: "scratch", sizeBytes: 256 * 1024 * 1024 });
  await daemon.rpc("volume.create", { name: "scratch4k", sizeBytes: 256 * 1024 * 1024, blockSize: 4096 });
});

afterAll(async () => {
  await daemon?.stop();
});

function runCu(url: string, tests = TESTS): Promise<string> {
  const tool = requireTool("iscsi-test-cu");
  return new Promise((resolve, reject) => {
    // Two URLs: the MultipathIO tests use a second session.
    const child = spawn(tool, ["-t", tests, "--dataloss", url, url], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      out += c.toString();
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`iscsi-test-cu did not finish in 15 minutes; last output:\n${out.slice(-4000)}`));
    }, 900_000);
    child.on("exit", () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

type CuStatus = "PASS" | "FAIL" | "SKIP";

/** Per-test verdicts from iscsi-test-cu's CUnit output (Suite.Test names). */
function parseCu(out: string): { name: string; status: CuStatus }[] {
  const results: { name: string; status: CuStatus }[] = [];
  let suite = "";
  let current: { name: string; text: string } | undefined;
  const finish = (verdict: string) => {
    if (!current) return;
    const status =
      verdict === "passed"
        ? /\[SKIPPED\]|not implemented|Skipping/i.test(current.text)
          ? "SKIP"
          : "PASS"
        : "FAIL";
    results.push({ name: current.name, status });
    current = undefined;
  };
  for (const line of out.split("\n")) {
    const s = /^Suite: (.+)$/.exec(line);
    if (s) suite = s[1]?.trim() ?? "";
    const t = /^\s+Test: (\S+) \.\.\.(.*)$/.exec(line);
    if (t) {
      current = { name: `${suite}.${t[1]}`, text: t[2] ?? "" };
      const v = /(passed|FAILED)\s*$/.exec(t[2] ?? "");
      if (v) finish(v[1] as string);
      continue;
    }
    if (current) {
      current.text += `\n${line}`;
      // The verdict ends a line, or starts one when the test kept logging after it.
      const v = /(passed|FAILED)\s*$/.exec(line) ?? /^(passed|FAILED)\b/.exec(line);
      if (v) finish(v[1] as string);
    }
  }
  return results;
}

async function runOn(volume: string, testBugs: ReadonlySet<string>): Promise<void> {
  const targets = await daemon.rpc<{ targets: { luns: { lun: number; source: { volume: string } }[] }[] }>(
    "target.list",
    {},
  );
  const lun = targets.targets[0]?.luns.find((l) => l.source.volume === volume);
  expect(lun).toBeDefined();
  const out = await runCu(daemon.url(IQN, lun?.lun ?? -1));
  const results = parseCu(out);
  const count = (s: CuStatus) => results.filter((r) => r.status === s).length;
  console.log(
    `iscsi-test-cu -t ${TESTS} on ${volume}: PASS ${count("PASS")}  FAIL ${count("FAIL")}  SKIP ${count("SKIP")}  (of ${results.length})`,
  );
  expect(out).toContain("Run Summary");
  expect(results.length).toBeGreaterThan(0);
  const failed = results.filter((r) => r.status === "FAIL").map((r) => r.name);
  const beyondTgt = failed.filter((n) => TGT_NOT_PASSING.has(n));
  if (beyondTgt.length > 0) console.warn(`failing where tgt does not pass either: ${beyondTgt.join(", ")}`);
  expect(failed.filter((n) => !TGT_NOT_PASSING.has(n))).toEqual([]);
  expect(failed.filter((n) => !testBugs.has(n))).toEqual([]);
  if (TESTS === "ALL") expect(count("PASS")).toBeGreaterThanOrEqual(MIN_PASS);
}

it("iscsi-test-cu on a 512e LUN passes everything tgt passes, and more", async () => {
  await runOn("scratch", LIBISCSI_TEST_BUGS_512E);
});

it("iscsi-test-cu on a 4Kn LUN: no failures at all", async () => {
  await runOn("scratch4k", new Set());
});

/** What a read-only LUN must pass: every read-side family, and ReadOnly (each write refused). */
const READ_ONLY_FAMILIES = [
  "SCSI.ReadOnly",
  "SCSI.Read6",
  "SCSI.Read10",
  "SCSI.Read12",
  "SCSI.Read16",
  "SCSI.ReadCapacity10",
  "SCSI.ReadCapacity16",
  "SCSI.Inquiry",
  "SCSI.TestUnitReady",
  "SCSI.Verify10",
  "SCSI.Verify16",
  "SCSI.ModeSense6",
  "SCSI.ReportSupportedOpcodes",
];

it("a snapshot LUN passes the read families and refuses every write (ReadOnly.ReadOnlySBC)", async () => {
  await daemon.rpc("snapshot.create", { volume: "scratch4k", name: "ro" });
  const exposed = await daemon.rpc<{ lun: { lun: number; readOnly: boolean } }>("snapshot.expose", {
    volume: "scratch4k",
    snapshot: "ro",
  });
  expect(exposed.lun.readOnly).toBe(true);
  const results: { name: string; status: CuStatus }[] = [];
  for (const family of READ_ONLY_FAMILIES) {
    const out = await runCu(daemon.url(IQN, exposed.lun.lun), family);
    expect(out, family).toContain("Run Summary");
    results.push(...parseCu(out));
  }
  const count = (s: CuStatus) => results.filter((r) => r.status === s).length;
  console.log(
    `iscsi-test-cu read families on a snapshot LUN: PASS ${count("PASS")}  FAIL ${count("FAIL")}  SKIP ${count("SKIP")}  (of ${results.length})`,
  );
  expect(results.filter((r) => r.status === "FAIL").map((r) => r.name)).toEqual([]);
  // Skipped only where the LUN is not write-protected: here it must run.
  expect(results.find((r) => r.name === "ReadOnly.ReadOnlySBC")?.status).toBe("PASS");
  expect(count("PASS")).toBeGreaterThanOrEqual(50);
});
