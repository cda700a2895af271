// Crash test (b): a real child process writes, flushes, snapshots and deletes until it is killed
// with SIGKILL at a random moment; the pool is reopened and checked, and the next child continues
// on the same pool. Cycles: LIVESNAP_KILL_CYCLES (default 6).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { openPool } from "../src/index.js";
import { checkView, type WrittenRecord } from "./crash-check.js";
import { pattern, withTempDir } from "./helpers.js";

const SIZE = 256 * 1024;
const here = fileURLToPath(new URL(".", import.meta.url));

async function bundleChild(outDir: string): Promise<string> {
  const outfile = join(outDir, "kill-child.mjs");
  await build({
    entryPoints: [join(here, "fixtures/kill-child.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    conditions: ["source"],
    outfile,
    logLevel: "silent",
  });
  return outfile;
}

function runUntilKilled(script: string, dir: string, seed: number, killAfterMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, dir, String(seed), String(SIZE)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timer: NodeJS.Timeout | undefined;
    // The kill clock starts once the child has acknowledged a few writes, so a slow, busy machine
    // still kills it mid-load rather than before any load.
    let acks = 0;
    child.stdout.on("data", (d: Buffer) => {
      const text = d.toString();
      stdout += text;
      acks += text.split("\nk ").length - 1 + (text.startsWith("k ") ? 1 : 0);
      if (!timer && stdout.includes("ready\n") && acks >= 12)
        timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("exit", (_code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGKILL") reject(new Error(`child exited on its own (code ${_code}): ${stderr}`));
      else resolve(stdout.split("\n").filter((l) => l.length > 0));
    });
  });
}

describe("SIGKILL mid-load", () => {
  it("every kill leaves a pool that recovers to a legal state, cycle after cycle", async () => {
    await withTempDir(async (tmp) => {
      const script = await bundleChild(tmp);
      const dir = join(tmp, "pool");
      let base: Buffer = Buffer.alloc(SIZE);
      /** Snapshots that survived earlier cycles: immutable from then on. */
      const known = new Map<string, Buffer>();
      const cycles = Number(process.env.LIVESNAP_KILL_CYCLES ?? 6);
      let totalAcked = 0;
      for (let cycle = 1; cycle <= cycles; cycle++) {
        const lines = await runUntilKilled(script, dir, cycle, 150 + ((cycle * 97) % 250));
        const writes: WrittenRecord[] = [];
        const acked = new Set<number>();
        const durable = new Set<number>();
        const flushStart = new Map<number, Set<number>>();
        const created = new Map<string, number>();
        const deleting = new Set<string>();
        for (const line of lines) {
          const [tag, a, b, c, d] = line.split(" ");
          if (tag === "a") {
            writes.push({
              id: Number(a),
              seq: Number(b),
              offset: Number(c),
              data: pattern(Number(a), Number(d)),
            });
          } else if (tag === "k") acked.add(Number(a));
          else if (tag === "fs") flushStart.set(Number(a), new Set(acked));
          else if (tag === "fd") for (const i of flushStart.get(Number(a)) ?? []) durable.add(i);
          else if (tag === "s") created.set(a as string, Number(b));
          else if (tag === "d") deleting.add(a as string);
        }
        totalAcked += acked.size;
        const pool = await openPool({ dir });
        const vol = pool.getVolume("v");
        const live = await vol.read(0, SIZE);
        const withBase = (view: Buffer, bound: number): string | null =>
          checkView(view, bound, writes, durable, 512, base);
        // The verdict goes into the message: vitest cuts a long received value short.
        const liveErr = withBase(live, Number.POSITIVE_INFINITY);
        expect(liveErr, `cycle ${cycle}: live: ${liveErr}`).toBeNull();
        const present = new Set<string>();
        for (const s of vol.listSnapshots()) {
          present.add(s.name);
          const got = await vol.getSnapshot(s.name).read(0, SIZE);
          const before = known.get(s.name);
          if (before) expect(got.equals(before), `cycle ${cycle}: old snapshot ${s.name} changed`).toBe(true);
          else {
            const err = withBase(got, s.seq);
            const acks = `killed after ${acked.size} acks, ${durable.size} durable, snapshot acked: ${created.has(s.name)}`;
            expect(err, `cycle ${cycle}: snapshot ${s.name} (seq ${s.seq}): ${err}; ${acks}`).toBeNull();
          }
          known.set(s.name, got);
        }
        for (const name of created.keys()) {
          if (!deleting.has(name))
            expect(present.has(name), `cycle ${cycle}: acknowledged snapshot ${name} lost`).toBe(true);
        }
        for (const name of [...known.keys()]) if (!present.has(name)) known.delete(name);
        base = live;
        await pool.close();
      }
      expect(totalAcked, "writes acknowledged over all cycles").toBeGreaterThan(cycles * 10);
    });
  }, 120_000);
});
