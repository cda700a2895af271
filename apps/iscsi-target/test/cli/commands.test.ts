// Every client command against a real management server on a real engine pool (the iSCSI side is the
// TargetControl double): human output, --json output, exit codes.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { PoolHandle } from "@livesnap/engine";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CliIO } from "../../src/cli/command.js";
import { EXIT } from "../../src/cli/errors.js";
import { main } from "../../src/cli/main.js";
import { type ManagementFixture, startManagementFixture } from "../management/fixture.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 64 * KiB;

let fx: ManagementFixture;
let dir: string;
let pool: PoolHandle;
let server: ManagementFixture["server"];

beforeEach(async () => {
  fx = await startManagementFixture({ prefix: "livesnap-cli-", chunkSize: CHUNK, version: "test" });
  ({ dir, pool, server } = fx);
});

afterEach(async () => {
  await fx.close();
});

/** Runs livesnap in-process; the data dir supplies URL and token unless the args override them. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    env: { LIVESNAP_DATA_DIR: dir },
    interactive: false,
    color: false,
  };
  const code = await main(args, io);
  return { code, out: out.join(""), err: err.join("") };
}

async function ok(...args: string[]): Promise<string> {
  const r = await cli(...args);
  expect(r.code, `${args.join(" ")}: ${r.err}`).toBe(EXIT.ok);
  return r.out;
}

async function write(volume: string, offset: number, data: Buffer): Promise<void> {
  const handle = pool.getVolume(volume);
  await handle.write(handle.admit(offset, data.length), data);
}

describe("livesnap client commands", () => {
  it("finds the daemon through the data dir, or --url/--token, and refuses a wrong token", async () => {
    expect(await ok("volume", "list")).toBe("no volumes\n");
    expect(await ok("volume", "list", "--url", server.url, "--token", server.token, "--json")).toBe("[]\n");
    const wrong = await cli("volume", "list", "--token", "wrong");
    expect(wrong.code).toBe(EXIT.unauthorized);
    expect(wrong.err).toMatch(/unauthorized/);
  });

  it("manages volumes", async () => {
    expect(await ok("volume", "create", "vol1", "8M", "--block-size", "4096")).toBe(
      "created volume vol1 (8 MiB)\n",
    );
    const list = JSON.parse(await ok("volume", "list", "--json"));
    expect(list).toMatchObject([{ name: "vol1", sizeBytes: 8 * MiB, blockSize: 4096, chunkSize: CHUNK }]);
    expect(await ok("volume", "list")).toMatch(
      /^NAME\s+SIZE\s+ALLOCATED.*\nvol1\s+8 MiB\s+0 B\s+4096\s+64 KiB\s+0 /,
    );
    expect(await ok("volume", "resize", "vol1", "16M")).toBe("volume vol1 is now 16 MiB\n");
    const dup = await cli("volume", "create", "vol1", "1M");
    expect(dup.code).toBe(EXIT.failed);
    expect(dup.err).toMatch(/vol1/);
    const bad = await cli("volume", "create", "bad/name", "1M");
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toMatch(/params\.name: must start with a letter or digit/);
    await ok("volume", "delete", "vol1");
    const gone = await cli("volume", "delete", "vol1");
    expect(gone.code).toBe(EXIT.notFound);
  });

  it("snapshots, lists, draws, diffs, exports and rolls back", async () => {
    await ok("volume", "create", "vol1", "1M");
    await write("vol1", 0, Buffer.alloc(2 * CHUNK, 0x11));
    expect(await ok("snapshot", "create", "vol1", "s1")).toMatch(/^created snapshot vol1@s1 \(seq \d+\)\n$/);
    await write("vol1", CHUNK, Buffer.alloc(CHUNK, 0x22));
    const s2 = JSON.parse(await ok("snapshot", "create", "vol1", "s2", "--json"));
    expect(s2).toMatchObject({ name: "s2", volume: "vol1", valid: true });
    const auto = JSON.parse(await ok("snapshot", "create", "vol1", "--json"));
    expect(auto.name).toMatch(/^snap-\d{8}T\d{6}Z$/);
    expect(await ok("snapshot", "list", "vol1")).toMatch(/^NAME.*\ns1 .*64 KiB\s+yes/);

    // 16 buckets of one chunk: chunk 0 data, chunk 1 preserved in s1, the rest empty.
    const picture = await ok("blockmap", "vol1", "--buckets", "16", "--width", "16");
    const mark = /(\w) preserved in snapshot s1\b/.exec(picture)?.[1];
    expect(mark, picture).toBeDefined();
    expect(picture).toContain(`|#${mark}..............|`);
    const since = await ok("blockmap", "vol1", "--buckets", "16", "--since", "s1", "--json");
    const map = JSON.parse(since) as { classes: string[]; counts: number[][] };
    expect(map.counts[1]![map.classes.indexOf("written")]).toBe(1);
    expect(map.counts[0]![map.classes.indexOf("written")]).toBe(0);

    const diff = await ok("diff", "vol1", "s1", "s2");
    expect(diff).toMatch(/64 KiB\s+64 KiB\s+65536\s+65536/);
    expect(diff).toMatch(/1 range\(s\), 64 KiB changed between s1 and s2/);
    expect(JSON.parse(await ok("diff", "vol1", "s1", "--json")).ranges).toEqual([
      { offset: CHUNK, length: CHUNK },
    ]);

    const file = join(dir, "s1.img");
    expect(await ok("export", "vol1", "s1", file)).toBe(`exported vol1@s1 to ${file} (1 MiB)\n`);
    const image = await readFile(file);
    expect(image.subarray(0, 2 * CHUNK).every((b) => b === 0x11)).toBe(true);
    expect(image.subarray(2 * CHUNK).every((b) => b === 0)).toBe(true);
    await writeFile(file, "keep me");
    expect((await cli("export", "vol1", "s1", file)).code).toBe(EXIT.usage);
    expect(await readFile(file, "utf8")).toBe("keep me");
    await ok("export", "vol1", "s1", file, "--force");
    expect((await readFile(file)).length).toBe(MiB);
    const missing = await cli("export", "vol1", "nope", join(dir, "x.img"));
    expect(missing.code).toBe(EXIT.notFound);

    expect(await ok("snapshot", "rollback", "vol1", "s1")).toBe("rolled back vol1 to s1\n");
    expect((await pool.getVolume("vol1").read(CHUNK, CHUNK)).every((b) => b === 0x11)).toBe(true);
    await ok("snapshot", "delete", "vol1", "s2");
    expect(
      JSON.parse(await ok("snapshot", "list", "vol1", "--json")).map((s: { name: string }) => s.name),
    ).toEqual(["s1", auto.name]);
  });

  it("exposes and withdraws snapshot LUNs and takes group snapshots", async () => {
    await ok("volume", "create", "a", "1M");
    await ok("volume", "create", "b", "1M");
    await ok("snapshot", "create", "a", "s1");
    expect(await ok("snapshot", "expose", "a", "s1")).toBe(
      "a@s1 is LUN 1 of iqn.2026-11.io.livesnap:a\niscsi://127.0.0.1:3260/iqn.2026-11.io.livesnap:a/1\n",
    );
    expect(await ok("targets")).toMatch(/1\s+a@s1\s+ro/);
    expect(await ok("snapshot", "withdraw", "a", "s1")).toBe("withdrew LUN 1 of iqn.2026-11.io.livesnap:a\n");
    expect((await cli("snapshot", "withdraw", "a", "s1")).code).toBe(EXIT.notFound);
    const group = JSON.parse(await ok("group", "snapshot", "g1", "a", "b", "--json"));
    expect(group.snapshots.map((s: { volume: string }) => s.volume)).toEqual(["a", "b"]);
  });

  it("shows sessions and stats, and watches I/O rates", async () => {
    expect(await ok("sessions")).toBe("no sessions\n");
    await ok("volume", "create", "vol1", "1M");
    await write("vol1", 0, Buffer.alloc(CHUNK, 1));
    const stats = JSON.parse(await ok("stats", "--json"));
    expect(stats).toEqual([
      { volume: "vol1", stats: expect.objectContaining({ writes: 1, bytesWritten: CHUNK }) },
    ]);
    expect(await ok("stats")).toMatch(/^VOLUME.*\nvol1\s+0\s+1\s+0 B\s+64 KiB/);
    const watched = await ok("stats", "vol1", "--watch", "--count", "1", "--json");
    expect(JSON.parse(watched.trim())).toMatchObject({ volume: "vol1" });
  });
});
