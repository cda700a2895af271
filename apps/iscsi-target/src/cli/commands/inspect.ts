// livesnap blockmap | diff | sessions | stats | targets
import { createClient, decodeBlockMap, type VolumeRates, wsTransport } from "@livesnap/protocol";
import WebSocket from "ws";
import { renderBlockMap } from "../blockmap-render.js";
import { type CommandSpec, printJson, stringFlag } from "../command.js";
import { formatBytes, formatRate, formatTime, parseInteger, parseSize, table } from "../format.js";

export const inspectCommands: CommandSpec[] = [
  {
    path: ["blockmap"],
    summary: "Draw where a volume's (or snapshot's) data lives",
    args: ["<volume>"],
    flags: {
      snapshot: {
        type: "string",
        value: "<name>",
        description: "Show this snapshot instead of the live volume",
      },
      since: { type: "string", value: "<name>", description: "Mark chunks written since this snapshot" },
      buckets: { type: "string", value: "<n>", description: "Characters in the picture (default 4 rows)" },
      width: { type: "string", value: "<n>", description: "Characters per row (default 64)" },
      start: { type: "string", value: "<offset>", description: "First byte (default 0)" },
      end: {
        type: "string",
        value: "<offset>",
        description: "End byte, exclusive (default: the volume size)",
      },
    },
    async run(run) {
      const [volume] = run.positionals as [string];
      const width = parseInteger(stringFlag(run, "width") ?? "64", "--width", 1);
      const buckets = parseInteger(stringFlag(run, "buckets") ?? String(width * 4), "--buckets", 1);
      const snapshot = stringFlag(run, "snapshot");
      const since = stringFlag(run, "since");
      const start = stringFlag(run, "start");
      const end = stringFlag(run, "end");
      const wire = await run.call("blockmap.get", {
        volume,
        buckets,
        ...(snapshot !== undefined ? { snapshot } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(start !== undefined ? { start: parseSize(start, "--start") } : {}),
        ...(end !== undefined ? { end: parseSize(end, "--end") } : {}),
      });
      const map = decodeBlockMap(wire);
      if (run.json) {
        const rows = Array.from({ length: map.buckets }, (_, b) =>
          Array.from(map.counts.subarray(b * map.classes.length, (b + 1) * map.classes.length)),
        );
        printJson(run, { ...wire, counts: rows });
      } else {
        const title = `${volume}${snapshot ? `@${snapshot}` : " (live)"}${since ? `, written since ${since}` : ""}`;
        run.io.stdout(`${title}\n${renderBlockMap(map, { width, color: run.io.color })}`);
      }
      return 0;
    },
  },
  {
    path: ["diff"],
    summary: "List chunks that differ between two snapshots (or a snapshot and the live volume)",
    args: ["<volume>", "<from>", "[to]"],
    async run(run) {
      const [volume, from, to] = run.positionals as [string, string, string?];
      const changed = await run.call("chunks.changed", {
        volume,
        from,
        ...(to !== undefined ? { to } : {}),
      });
      if (run.json) {
        printJson(run, changed);
        return 0;
      }
      const total = changed.ranges.reduce((n, r) => n + r.length, 0);
      run.io.stdout(
        table(
          ["OFFSET", "LENGTH", "OFFSET (B)", "LENGTH (B)"],
          changed.ranges.map((r) => [
            formatBytes(r.offset),
            formatBytes(r.length),
            String(r.offset),
            String(r.length),
          ]),
        ),
      );
      run.io.stdout(
        `${changed.ranges.length} range(s), ${formatBytes(total)} changed between ${from} and ${to ?? "the live volume"} (chunk ${formatBytes(changed.chunkSize)})\n`,
      );
      return 0;
    },
  },
  {
    path: ["sessions"],
    summary: "List logged-in iSCSI sessions",
    args: [],
    async run(run) {
      const { sessions } = await run.call("session.list", {});
      if (run.json) printJson(run, sessions);
      else if (sessions.length === 0) run.io.stdout("no sessions\n");
      else
        run.io.stdout(
          table(
            ["TSIH", "INITIATOR", "TARGET", "ADDRESS", "CONNS", "DIGESTS", "LOGGED IN"],
            sessions.map((s) => [
              String(s.id),
              s.initiator,
              s.target,
              s.remoteAddress,
              String(s.connections),
              `${s.headerDigest}/${s.dataDigest}`,
              formatTime(s.loggedInAt),
            ]),
          ),
        );
      return 0;
    },
  },
  {
    path: ["targets"],
    summary: "List targets, portals and LUNs",
    args: [],
    async run(run) {
      const { targets } = await run.call("target.list", {});
      if (run.json) {
        printJson(run, targets);
        return 0;
      }
      for (const t of targets) {
        run.io.stdout(`${t.iqn}  portals: ${t.portals.map((p) => `${p.host}:${p.port}`).join(", ")}\n`);
        run.io.stdout(
          table(
            ["LUN", "SOURCE", "MODE", "URL"],
            t.luns.map((l) => [
              String(l.lun),
              l.source.kind === "volume" ? l.source.volume : `${l.source.volume}@${l.source.snapshot}`,
              l.readOnly ? "ro" : "rw",
              l.url,
            ]),
          ),
        );
      }
      if (targets.length === 0) run.io.stdout("no targets\n");
      return 0;
    },
  },
  {
    path: ["stats"],
    summary: "I/O counters per volume (--watch: live rates every second)",
    args: ["[volume]"],
    flags: {
      watch: {
        type: "boolean",
        description: "Print per-second rates as the daemon pushes them (Ctrl-C stops)",
      },
      count: { type: "string", value: "<n>", description: "With --watch: stop after n samples" },
    },
    async run(run) {
      const [volume] = run.positionals as [string?];
      if (run.flags.watch) return watchRates(run, volume);
      const { volumes } = await run.call("stats.get", volume !== undefined ? { volume } : {});
      if (run.json) printJson(run, volumes);
      else if (volumes.length === 0) run.io.stdout("no volumes\n");
      else
        run.io.stdout(
          table(
            ["VOLUME", "READS", "WRITES", "READ", "WRITTEN", "COW COPIES", "COW BYTES", "UNMAPS", "FLUSHES"],
            volumes.map(({ volume: v, stats: s }) => [
              v,
              String(s.reads),
              String(s.writes),
              formatBytes(s.bytesRead),
              formatBytes(s.bytesWritten),
              String(s.cowCopies),
              formatBytes(s.cowBytes),
              String(s.unmaps),
              String(s.flushes),
            ]),
          ),
        );
      return 0;
    },
  },
];

async function watchRates(
  run: Parameters<CommandSpec["run"]>[0],
  volume: string | undefined,
): Promise<number> {
  const count = stringFlag(run, "count");
  const limit = count === undefined ? Number.POSITIVE_INFINITY : parseInteger(count, "--count", 1);
  const connection = await run.connection();
  const client = createClient(await wsTransport({ ...connection, connect: (url) => new WebSocket(url) }));
  let seen = 0;
  const done = new Promise<void>((resolve) => {
    const onSignal = () => resolve();
    process.once("SIGINT", onSignal);
    client.on("volume.io", (r: VolumeRates) => {
      if (run.json) run.io.stdout(`${JSON.stringify(r)}\n`);
      else
        run.io.stdout(
          `${formatTime(r.at)}  ${r.volume}  read ${formatRate(r.readIops, "IOPS")} ${formatBytes(Math.round(r.readBytesPerSec))}/s  write ${formatRate(r.writeIops, "IOPS")} ${formatBytes(Math.round(r.writeBytesPerSec))}/s  cow ${formatRate(r.cowCopiesPerSec, "/s")}\n`,
        );
      if (++seen >= limit) {
        process.off("SIGINT", onSignal);
        resolve();
      }
    });
  });
  await client.call("events.subscribe", { events: ["volume.io"], ...(volume ? { volumes: [volume] } : {}) });
  await done;
  await client.close();
  return 0;
}
